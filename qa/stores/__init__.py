"""Implementations of ``qa.store.RetrievalStore``, one module per engine."""
