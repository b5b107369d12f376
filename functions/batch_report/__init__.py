"""The batch_report capability."""
