"""DCGAN building blocks for the gan plugin.

This module imports Keras and TensorFlow; the plugin module imports it only when
a search builds a model, so listing plugins stays fast.
"""

import keras
import tensorflow as tf
from keras import layers


def upsampling_depths(height: int, width: int) -> tuple[int, int]:
    """The (fewest, most) stride-2 upsamplings that reach (height, width) from >= 2x2."""
    most = 0
    while height % 2 ** (most + 1) == 0 and width % 2 ** (most + 1) == 0 and min(height, width) // 2 ** (most + 1) >= 2:
        most += 1
    return min(1, most), most


def generator(spec, latent_dim: int, depth: int, filters: int, batch_norm: bool) -> keras.Model:
    """Latent vector in, image out, in the value range of the training images."""
    height, width, channels = spec.input_shape
    z = keras.Input((latent_dim,), name="latent")
    x = layers.Dense((height // 2**depth) * (width // 2**depth) * filters, use_bias=not batch_norm)(z)
    x = layers.Reshape((height // 2**depth, width // 2**depth, filters))(x)
    for step in range(depth + 1):
        if batch_norm:
            x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.LeakyReLU(0.2)(x)
        if step < depth:
            filters = max(filters // 2, 16)
            x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=not batch_norm)(x)
    x = layers.Conv2D(channels, 3, padding="same", activation="tanh")(x)
    low, high = spec.value_range
    x = layers.Rescaling(scale=(high - low) / 2, offset=(high + low) / 2, name="to_data_range")(x)
    return keras.Model(z, x, name="generator")


def discriminator(spec, depth: int, filters: int, dropout: float) -> keras.Model:
    """Image in (raw values, normalised inside), one real/fake logit out."""
    inputs, x = spec.inputs()
    for step in range(max(depth, 1)):
        width = max(filters // 2 ** (max(depth, 1) - 1 - step), 16)
        strides = 2 if min(x.shape[1], x.shape[2]) >= 2 else 1
        x = layers.Conv2D(width, 3, strides=strides, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(1, name="logit")(x), name="discriminator")


class DCGAN(keras.Model):
    """Generator and discriminator trained against each other by ``fit``."""

    def __init__(self, generator, discriminator, label_smoothing: float = 0.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = generator.input_shape[-1]
        self.label_smoothing = label_smoothing
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True  # both halves are functional models, built already

    def call(self, z, training=False):
        return self.generator(z, training=training)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, generator_optimizer, discriminator_optimizer):
        super().compile(optimizer=generator_optimizer)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        # built now, so a saved checkpoint and a freshly built model agree
        generator_optimizer.build(self.generator.trainable_variables)
        discriminator_optimizer.build(self.discriminator.trainable_variables)

    def _latent(self, batch):
        return keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)

    def train_step(self, data):
        real = data[0] if isinstance(data, tuple) else data
        batch = tf.shape(real)[0]
        fake = self.generator(self._latent(batch), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            real_targets = tf.ones_like(real_logits) * (1.0 - self.label_smoothing)
            d_loss = self.bce(real_targets, real_logits) + self.bce(tf.zeros_like(fake_logits), fake_logits)
        weights = self.discriminator.trainable_weights
        self.discriminator_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))

        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(self.generator(self._latent(batch), training=True), training=True)
            g_loss = self.bce(tf.ones_like(fake_logits), fake_logits)
        weights = self.generator.trainable_weights
        self.generator_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {metric.name: metric.result() for metric in self.metrics}
