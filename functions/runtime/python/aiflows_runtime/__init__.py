"""The shared runtime of every capability handler, deployed as a Lambda layer.

Handlers import from here; domain code (`logic.py` beside each handler) imports
nothing from boto3 and nothing from this package's AWS adapters.
"""
