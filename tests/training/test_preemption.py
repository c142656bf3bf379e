"""tfbegan.training.preemption: SIGTERM / SIGINT finish the step, save at it, stop fit()."""

import logging
import signal

import keras
import numpy as np
import pytest

from tfbegan.training import preemption
from tfbegan.training.preemption import PreemptionCheckpoint, SignalCatcher


def _tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


class _SignalAtStep(keras.callbacks.Callback):
    """Sends ``signum`` to this process during step ``step`` (1-based)."""

    def __init__(self, step, signum):
        super().__init__()
        self.step, self.signum = step, signum

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) + 1 == self.step:
            # raise_signal: delivered to this thread before it returns (os.kill
            # may reach another thread, and the handler then runs some time later).
            signal.raise_signal(self.signum)


def _fit(signum, caplog, strategy=None, sync=None):
    x = np.ones((40, 2), np.float32)
    saved = []
    with SignalCatcher() as catcher:
        model = _tiny_model() if strategy is None else None
        if strategy is not None:
            with strategy.scope():
                model = _tiny_model()
        stopper = PreemptionCheckpoint(catcher, saved.append, strategy=strategy,
                                       sync=sync)
        with caplog.at_level(logging.INFO, logger="tfbegan"):
            model.fit(x, x[:, :1], batch_size=2, epochs=1, verbose=0,
                      callbacks=[_SignalAtStep(3, signum), stopper])
    return model, catcher, stopper, saved


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_saves_at_the_step_and_stops(caplog, signum, code):
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    model, catcher, stopper, saved = _fit(signum, caplog)
    # Step 3 finished (not 20, the epoch's length), was saved, and fit() stopped.
    assert saved == [3]
    assert int(model.optimizer.iterations.numpy()) == 3
    assert stopper.stopped_at == 3
    assert catcher.received == signum
    assert preemption.exit_code(catcher.received) == code
    name = preemption.signal_name(signum)
    assert f"received {name}: saved a checkpoint at step 3; rerun to resume." in caplog.text
    # The previous handlers are back.
    assert {s: signal.getsignal(s) for s in before} == before


def test_no_signal_no_save():
    x = np.ones((8, 2), np.float32)
    saved = []
    with SignalCatcher() as catcher:
        model = _tiny_model()
        model.fit(x, x[:, :1], batch_size=2, epochs=1, verbose=0,
                  callbacks=[PreemptionCheckpoint(catcher, saved.append)])
    assert saved == [] and catcher.received is None
    assert preemption.exit_code(catcher.received) == 0


def test_shared_decision_across_replicas(caplog, two_replica_strategy):
    # The cross-replica gather that multi-worker runs use, on two local replicas.
    model, catcher, stopper, saved = _fit(signal.SIGTERM, caplog,
                                          strategy=two_replica_strategy, sync=True)
    assert saved == [3] and stopper.stopped_at == 3 and stopper.signum == signal.SIGTERM


def test_non_chief_stops_without_saving_when_another_worker_was_signalled():
    catcher = SignalCatcher()  # this worker got nothing

    class _Model:
        stop_training = False

    stopper = PreemptionCheckpoint(catcher, pytest.fail, chief=False, sync=True,
                                   step_fn=lambda m: 7)
    stopper._shared_signal = lambda: int(signal.SIGTERM)  # what the gather returned
    stopper.set_model(_Model())
    stopper.on_train_batch_end(0)
    assert stopper.model.stop_training and stopper.stopped_at == 7
    assert catcher.received == signal.SIGTERM  # so this worker exits 143 as well


def test_second_signal_restores_default_behaviour():
    # Start from Python's own SIGINT handler, whatever an earlier test in this worker
    # left installed: the second signal goes back to the handler found at install
    # time, and which tests share a worker depends on xdist's scheduling (the test
    # failed once in a loaded full run and passes alone).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        catcher = SignalCatcher([signal.SIGINT]).install()
        try:
            signal.raise_signal(signal.SIGINT)
            assert catcher.received == signal.SIGINT
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)  # back to Python's default handler
        finally:
            catcher.restore()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_sync_every_is_validated():
    with pytest.raises(ValueError, match="sync_every=0"):
        PreemptionCheckpoint(SignalCatcher(), print, sync_every=0)


def test_announce_false_leaves_the_message_to_the_caller(caplog):
    x = np.ones((20, 2), np.float32)
    saved = []
    with SignalCatcher() as catcher, caplog.at_level(logging.INFO, logger="tfbegan"):
        model = _tiny_model()
        model.fit(x, x[:, :1], batch_size=2, epochs=1, verbose=0,
                  callbacks=[_SignalAtStep(2, signal.SIGTERM),
                             PreemptionCheckpoint(catcher, saved.append, announce=False)])
    assert saved == [2]
    assert "saved a checkpoint" not in caplog.text
