"""Brokers: the protocol the paper loop talks to, the in-process simulated broker and Interactive Brokers.

`trader_cols.brokers.ibkr` imports the IBKR client library; import it only when that broker is chosen.
"""

from trader_cols.brokers.base import (
    AccountValues,
    Ack,
    Broker,
    BrokerEvent,
    Fill,
    Order,
    Position,
    make_client_order_id,
)

__all__ = ["Ack", "AccountValues", "Broker", "BrokerEvent", "Fill", "Order", "Position", "make_client_order_id"]
