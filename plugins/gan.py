"""A DCGAN for image generation, scored by a Frechet distance (see automodel.engine.generation).

The search space covers both networks: latent size, depth (upsampling steps),
width, batch norm in the generator, dropout in the discriminator, one learning
rate each, and one-sided label smoothing. The trial's model is the generator.
"""

from automodel import Architecture, hookimpl


class GAN(Architecture):
    name = "gan"
    tasks = ("image_generation",)
    description = "DCGAN: convolutional generator and discriminator trained adversarially"

    def build(self, hp, spec):
        import keras

        from . import dcgan

        fewest, most = dcgan.upsampling_depths(*spec.input_shape[:2])
        depth = hp.Int("depth", fewest, most, default=most) if most > fewest else hp.Fixed("depth", most)
        filters = hp.Choice("filters", [32, 64, 128], default=64)
        gan = dcgan.DCGAN(
            dcgan.generator(
                spec,
                latent_dim=hp.Choice("latent_dim", [16, 32, 64, 128], default=32),
                depth=depth,
                filters=filters,
                batch_norm=hp.Boolean("generator_batch_norm", default=True),
            ),
            dcgan.discriminator(
                spec, depth=depth, filters=filters,
                dropout=hp.Float("discriminator_dropout", 0.0, 0.4, step=0.1, default=0.2),
            ),
            label_smoothing=hp.Float("label_smoothing", 0.0, 0.2, step=0.1, default=0.1),
        )
        gan.compile(
            generator_optimizer=keras.optimizers.Adam(
                hp.Float("generator_learning_rate", 1e-4, 3e-3, sampling="log", default=1e-3), beta_1=0.5
            ),
            discriminator_optimizer=keras.optimizers.Adam(
                hp.Float("discriminator_learning_rate", 1e-4, 3e-3, sampling="log", default=5e-4), beta_1=0.5
            ),
        )
        return gan

    def fit(self, hp, model, spec, x, y=None, validation_data=None, **kwargs):
        # Adversarial training needs only the images; the engine's callbacks
        # measure each epoch's Frechet distance on held-out images.
        return model.fit(x, **kwargs)

    def final_model(self, model):
        return model.generator


@hookimpl
def register_architectures(register):
    register(GAN())
