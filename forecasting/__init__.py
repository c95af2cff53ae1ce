"""Forecasting: Prophet revenue forecasts, baselines and backtests (DESIGN §5)."""
