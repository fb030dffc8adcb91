"""Training code behind :func:`genrescope.train.train` (the entry point).

``common``
    feature cache, split by song, stacking, bundle writing, final report
``head``
    the ``head`` method on the frozen base model's embeddings
``crossval``
    grouped K-fold cross-validation of the head
``finetune``
    reading an ``--init`` checkpoint and building the VGG from it
``cnn``
    the ``cnn`` method (ccmusic recipe) and the epoch loop it shares
"""
