"""Tests of the brokers: simulated broker, IBKR mapping, and ib_async against the project's loopback fake gateway."""
