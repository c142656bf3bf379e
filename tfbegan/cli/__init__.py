"""Command line: thin absl mains; the only place tfbegan reads flags.

One module per command (``train``, ``export``, ``sample``, ``evaluate``, ``invert``,
``latent``), ``common`` (logging, one-line errors), ``defaults`` (the no-flag preset
and the order defaults apply in), and the model flags as tables: ``flag_table`` and
one ``flags_<family>`` module per family, keyed by name in ``variants``. Imports no
TensorFlow at module level, so a command configures logging first; may import every
package."""
