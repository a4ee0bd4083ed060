export * from '@nats-io/nats-core';
