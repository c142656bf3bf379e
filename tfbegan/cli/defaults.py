"""Flag defaults per model family, and the no-flag preset: one place each.

A flag's value is resolved in this order, the first that applies wins:

1. the value given on the command line or in a flagfile;
2. when ``--model`` is not given: the recipe chosen from the data
   (``tfbegan.cli.recipes``) when ``--dataset`` names other images than the
   embedded digits, else the quickstart preset (:data:`QUICKSTART`), the no-flag run;
3. the model family's paper values (``DEFAULTS`` of its flag module, e.g. Khan et
   al. 2018's learning rate 5e-5 for ``vae_began``);
4. the flag's own default: Berthelot et al. 2017's value for the core flags, each
   family's paper value for its own flags.

So ``tfbegan-train --model=X`` trains family X as its paper does (at the embedded
digits' 32x32), and the quickstart preset never leaks into another model.
"""

from __future__ import annotations

#: The no-flag run (the quickstart preset spells it out): BEGAN with Li et al.
#: 2018's denoising loss on the DCGAN-style network pair of public MNIST BEGANs
#: (``architecture="dcgan"``, ~4x the images per second of Berthelot et al. 2017's
#: network), batch 64, G at 1e-3 and D at 2e-4, bfloat16 where the CPU runs it
#: natively, and G's skip connection with gamma 0.85 (docs/results.md). Only the
#: values that differ from the denoising family's own defaults (3 and 4 above) are
#: listed.
QUICKSTART = dict(
    model="denoising_began", architecture="dcgan", filters=32, z_dim=32, h_dim=32,
    gamma=0.85, lambda_k=0.05, eta=2, denoise_lambda=4.0, batch_norm=False,
    skip_connections=True, learning_rate=1e-3, d_lr_ratio=0.2, lr_decay_every=1000,
    batch_size=64, steps=3000, mixed_precision="auto")


class ResolvedFlags:
    """Read-only view of parsed absl flags with the defaults above applied.

    ``overrides`` maps flag names to the values used when the flag was not given
    (the preset and the family's defaults, already merged in priority order).
    Attribute access mirrors ``FLAGS.name``; ``given(name)`` tells whether the user
    set the flag.
    """

    def __init__(self, flag_values, overrides):
        self._fv = flag_values
        self._overrides = dict(overrides)

    def given(self, name):
        return bool(self._fv[name].present)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if not self.given(name) and name in self._overrides:
            return self._overrides[name]
        return getattr(self._fv, name)

    def __contains__(self, name):
        return name in self._fv


def resolve(flag_values, family_defaults, preset=None):
    """``ResolvedFlags`` for the parsed ``flag_values``.

    Args:
      flag_values: parsed absl ``FlagValues`` (with ``--model``).
      family_defaults: ``{model name: {flag: value}}``, each family's paper values
        for flags it does not own.
      preset: the values applied when ``--model`` is not given (with a ``model``
        entry); default :data:`QUICKSTART` (``tfbegan.cli.recipes`` passes the
        recipe it chose from the data).
    """
    preset = {} if flag_values["model"].present else (preset or QUICKSTART)
    model = flag_values.model if flag_values["model"].present else preset["model"]
    overrides = {**family_defaults.get(model, {}), **preset}
    return ResolvedFlags(flag_values, overrides)
