"""Quality evaluations: labelled corpora in, precision and recall out (``make eval``)."""
