//! Arbitrary bytes through the MQTT packet decoder, after a valid CONNECT
//! and without one: no panic, a packet never claims more bytes than were
//! given, errors are sticky, and feeding the stream one byte at a time
//! gives the same packets and error as feeding it whole (chunking). Also
//! the topic mapping: no panic, and topic → subject → topic round-trips
//! for topics without `//`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use natsws_core::mqtt::codec::{Decoder, Limits};
use natsws_core::mqtt::topic;

fn run(chunks: &[&[u8]]) -> (Vec<String>, Option<String>) {
    let mut d = Decoder::new(Limits { max_payload: 8192, reject_qos2_publish: false });
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match d.decode(&buf) {
                Ok(Some((p, n))) => {
                    assert!(n > 0 && n <= buf.len());
                    out.push(format!("{p:?}"));
                    buf.drain(..n);
                }
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(d.decode(&buf), Err(e));
                    return (out, Some(format!("{e:?}")));
                }
            }
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let mut stream = Vec::new();
    natsws_core::mqtt::codec::client::connect(&mut stream, b"f", true, 0, None, None, None);
    stream.extend_from_slice(data);
    for s in [&stream[..], data] {
        let whole = run(&[s]);
        let bytes: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(run(&bytes), whole);
    }
    let mut subj = Vec::new();
    if topic::topic_to_subject(data, &mut subj).is_ok() && !data.windows(2).any(|w| w == b"//") {
        let mut back = Vec::new();
        topic::subject_to_topic(&subj, &mut back);
        assert_eq!(back, data);
    }
    let _ = topic::filter_to_subject(data, &mut Vec::new());
});
