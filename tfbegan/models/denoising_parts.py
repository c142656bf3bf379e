"""Parts of DenoisingBEGAN kept apart to keep its module small: historical
averaging of parameters (Salimans et al. 2016; Li et al. 2018 Table 1 "+HA") and the
terms on D's code of G(z): EBGAN's pull-away term (Zhao et al. 2017) and BEGAN-CS's
latent constraint (Chang et al. 2018)."""

from __future__ import annotations

import tensorflow as tf

from tfbegan.losses.terms import (
    historical_averaging_penalty,
    latent_constraint,
    pull_away_term,
)


class HistoricalAveragingMixin:
    """Cumulative parameter means (``ha_count``, ``ha_avg_d``, ``ha_avg_g``) and the
    penalties ``||theta - mean of past theta||^2`` weighted by ``ha_weight``."""

    def _average_slot(self, variable, name):
        return self.add_weight(name=name, shape=variable.shape, initializer="zeros",
                               trainable=False, aggregation="mean", dtype="float32")

    def historical_penalties(self):
        """``(||theta_D - avg_D||^2, ||theta_G - avg_G||^2)`` with the current
        averages (zeros when ``ha_weight = 0``)."""
        if self.ha_weight <= 0:
            return tf.constant(0.0), tf.constant(0.0)
        return (historical_averaging_penalty(self.discriminator.trainable_variables,
                                             self.ha_avg_d),
                historical_averaging_penalty(self.generator.trainable_variables,
                                             self.ha_avg_g))

    def update_historical_averages(self):
        """Folds the current parameters into the cumulative means:
        ``count += 1; avg += (theta - avg) / count`` (Salimans et al. 2016)."""
        count = tf.convert_to_tensor(self.ha_count) + 1.0
        self.ha_count.assign(count)
        for variables, averages in ((self.discriminator.trainable_variables, self.ha_avg_d),
                                    (self.generator.trainable_variables, self.ha_avg_g)):
            for v, a in zip(variables, averages, strict=True):
                a_val = tf.convert_to_tensor(a)
                a.assign(a_val + (tf.convert_to_tensor(v) - a_val) / count)



class CodeTermsMixin:
    """D's code h of G(z) and the terms on it, weighted by ``pull_away_weight`` (L_G)
    and ``latent_constraint_weight`` (L_D)."""

    def _reconstruct(self, images, training):
        """``(D(images), D's code h of them)``; the code only when a code term is on
        (pull-away, latent constraint), else None."""
        if not self.uses_codes():
            return self.discriminator(images, training=training), None
        h = self.discriminator.get_layer("encoder")(images, training=training)
        return self.discriminator.get_layer("decoder")(h, training=training), h

    def uses_codes(self):
        """Whether a term on D's code of G(z) is on (pull-away, latent constraint)."""
        return self.pull_away_weight > 0 or self.latent_constraint_weight > 0

    def code_terms(self, codes, z):
        """Unweighted ``pull_away`` and ``latent_constraint`` of the generated batch's
        codes (those whose weight is > 0)."""
        terms = {}
        if self.pull_away_weight > 0:
            terms["pull_away"] = pull_away_term(codes)
        if self.latent_constraint_weight > 0:
            terms["latent_constraint"] = latent_constraint(codes, z)
        return terms

    def add_code_terms(self, d_loss, g_loss, out):
        """``(d_loss + w_cs * latent_constraint, g_loss + w_pt * pull_away)``."""
        if "latent_constraint" in out:
            d_loss += self.latent_constraint_weight * out["latent_constraint"]
        if "pull_away" in out:
            g_loss += self.pull_away_weight * out["pull_away"]
        return d_loss, g_loss
