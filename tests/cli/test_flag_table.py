"""The flag tables of the family modules (tfbegan.cli.flag_table)."""

import pytest
from absl import flags

from tfbegan.cli import flag_table, flags_age, flags_began, flags_denoising, flags_vae_began
from tfbegan.cli.flag_table import Flag

TABLE = (
    Flag("float", "t_weight", 2.0, "A weight.", kwarg="weight"),
    Flag("enum", "t_mode", "a", "A mode.", choices=("a", "b")),
    Flag("string", "t_spec", None, "A spec.", kwarg="spec"),
    Flag("list", "t_gains", ["1", "2"], "Gains.", kwarg="gains",
         convert=lambda v: tuple(float(g) for g in v)),
)


def parsed(table, *argv):
    fv = flags.FlagValues()
    flag_table.define(table, fv)
    flag_table.define(table, fv)  # idempotent: no DuplicateFlagError
    fv(["prog", *argv])
    return fv


def test_kwargs_from_a_table():
    fv = parsed(TABLE)
    # Defaults: every row passed, convert applied, kwarg names used.
    assert flag_table.model_kwargs(TABLE, fv) == {"weight": 2.0, "t_mode": "a", "spec": None,
                                                  "gains": (1.0, 2.0)}
    fv = parsed(TABLE, "--t_weight=0.5", "--t_mode=b", "--t_spec=l2", "--t_gains=3,4")
    assert flag_table.model_kwargs(TABLE, fv) == {
        "weight": 0.5, "t_mode": "b", "spec": "l2", "gains": (3.0, 4.0)}
    # An empty string means "not given", like the None default.
    fv = parsed(TABLE, "--t_spec=")
    assert flag_table.model_kwargs(TABLE, fv)["spec"] is None


def test_enum_rows_reject_other_values():
    with pytest.raises(flags.IllegalFlagValueError):
        parsed(TABLE, "--t_mode=c")


@pytest.mark.parametrize("row, match", [
    (dict(kind="complex"), "kind='complex'"),
    (dict(kind="enum"), "choices go with kind='enum'"),
    (dict(kind="float", choices=("a",)), "choices go with kind='enum'"),
])
def test_bad_rows_are_named(row, match):
    with pytest.raises(ValueError, match=match):
        Flag(name="t_bad", default=1.0, help="Bad.", **row)


def test_family_kwargs_keep_their_names():
    # The constructor arguments the families' tables feed (configs of recorded runs
    # store exactly these keys).
    fv = flags.FlagValues()
    for module in (flags_began, flags_denoising, flags_age, flags_vae_began):
        module.define_flags(fv)
    fv(["prog"])
    assert set(flags_denoising.model_kwargs(fv)) == {
        "gamma", "lambda_k", "eta", "k_init", "distance", "controller", "batch_norm",
        "skip_connections", "architecture", "generator_ema", "lambda_noise", "noise_std",
        "ha_weight", "pull_away_weight", "latent_constraint_weight", "bn_statistics",
        "augment"}
    # Every row, defaults included: a run's recorded settings are complete.
    assert flags_age.model_kwargs(fv) == {
        "lambda_z": 1000.0, "mu_x": 10.0, "g_steps": 1, "e_lr_ratio": 1.0,
        "batch_norm": False, "architecture": "began", "kl_form": "gaussian",
        "latent_distance": "squared_l2", "recon_moving_statistics": False,
        "adaptive_adversary": False, "kl_fake_weight": 1.0,
        "encoder_real_statistics": False, "g_mu_x": 0.0}
    assert set(flags_vae_began.model_kwargs(fv)) == {
        "alpha", "beta", "gamma", "eta", "pid_gains", "k_init", "kl_weight", "kl_scale",
        "warmup_steps", "distance", "architecture", "augment"}
