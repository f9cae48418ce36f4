"""The search engine: KerasTuner searching one joint space of the chosen architectures.

``hypermodel`` joins the architectures into one HyperModel; ``tuners`` adds
automodel's records, budget, pruning and cross-validation to KerasTuner's tuners
(``budget``, ``pruning``, ``validation``); ``protocol`` sizes each trial's
training to the data; ``portfolio`` runs known-good configurations first;
``trials`` builds the tuner and runs the trials; ``resume`` continues killed
trials; ``predictions`` keeps each trial's validation predictions, from which
``ensemble`` selects; ``refit`` retrains the winner on all the data;
``generation`` scores image generation. Orchestration (``automodel.search``)
sits above, in ``automodel.api``, so worker processes can use this layer alone.
"""
