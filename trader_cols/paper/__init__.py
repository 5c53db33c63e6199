"""Paper trading: the walkforward's decisions on the latest bars, sized by the kernel's rules, sent to a broker
(simulated or IBKR), journalled step by step in the warehouse; preflight, health and status."""

from trader_cols.paper.loop import PaperLoop, PaperRequest, PaperResult, run_paper, session_id
from trader_cols.paper.market import Clock, ManualClock, SystemClock

__all__ = ["Clock", "ManualClock", "PaperLoop", "PaperRequest", "PaperResult", "SystemClock", "run_paper",
           "session_id"]
