"""What the office and departments publish: the plan's tables, ledger exports, weekly
statistics and the monthly bulletin, computed from live data."""
