"""`python -m trader_cols …` is `tcols …`."""

from trader_cols.commands import main

main()
