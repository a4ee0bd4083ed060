export * from 'nats.ws';
