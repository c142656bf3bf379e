"""Training: ``train(config, workdir)`` and everything a run needs around ``fit``.

``config`` (``TrainConfig``), ``train_lib`` (the whole job), ``checkpoints`` (atomic,
resumable saves), ``run_config`` (the workdir's ``config.json``), ``workdir_lock``,
``preemption`` (save on SIGTERM/SIGINT), ``distribution`` (tf.distribute strategies) and
``precision`` (mixed precision). The top of the library: it may import every package
but ``cli``; nothing but ``cli``, ``serving`` (checkpoints) and ``callbacks``
(checkpointing) imports it.
"""
