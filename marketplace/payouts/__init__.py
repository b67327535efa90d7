"""Payouts: earnings leave the ledger (payable → in transit → paid out), exactly once."""
