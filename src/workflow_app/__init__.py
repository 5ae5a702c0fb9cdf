"""Hazard closed-loop workflow application (隐患闭环管理)."""

__version__ = "0.1.0"
