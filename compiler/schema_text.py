"""What each key of a spec means: the description editors show on hover (yaml-language-server),
keyed by its path in the schema (``*`` for any name a user chooses: a component, a cable, a rule)."""

ABOUT = {
    "name": "the model's name: run folders and plot titles use it",
    "about": "one line saying what the model is",
    "seed": "draws the initial weights, the data's split and shuffles, and every random number of a run",
    "dtype": "float32 (fast) or float64 (for oracles and gradient checks)",
    "data": "the dataset, its split and the mini-batch size",
    "data/dataset": "a built-in dataset or a file format; each takes the parameters listed beside it",
    "data/test_fraction": "the fraction of examples held out for testing",
    "data/batch": "examples per training trial (mini-batch)",
    "data/shuffle": "shuffle the training examples every epoch (default true)",
    "data/seed": "draws the split and the generated data only, so seeds can vary the weights with the split held",
    "data/nudge": "digits: also each image moved one pixel up, down, left and right (5x the examples)",
    "data/repeat": "how many times the examples are repeated",
    "data/bits": "parity: input bits (every pattern of them is an example)",
    "data/n": "how many examples to generate",
    "data/centers": "blobs: how many clusters (and classes)",
    "data/features": "input width of generated data",
    "data/spread": "blobs: each cluster's standard deviation",
    "data/classes": "classification: how many classes",
    "data/informative": "classification: dimensions that carry the classes (the rest are noise)",
    "data/clusters": "classification: Gaussian clusters per class",
    "data/separation": "classification: distance between the class clusters (larger is easier)",
    "data/noise": "moons: the standard deviation of the noise added to the points",
    "data/size": "bars: the images' side",
    "data/p": "bars: the probability that each bar is on",
    "data/dim": "gaussian: input width",
    "data/spectrum": "gaussian: the covariance's eigenvalues, largest first (default 1/k)",
    "data/mean": "gaussian: every coordinate's mean",
    "data/path": "a file, relative to the spec",
    "data/x": "the inputs: an array name (npz) or a file (.npy, CSV, MNIST IDX; gzip allowed)",
    "data/y": "the targets or integer labels (optional): an array name or a file",
    "data/label": "csv: the column holding the labels (null: none)",
    "data/streams": "further inputs derived from each batch (noisy, masked, wrong labels); clamps read them as data.NAME",
    "data/streams/*/noise": "the standard deviation of the Gaussian noise added",
    "data/streams/*/p": "the probability that each element is set to 0",
    "data/streams/*/blur": "how many times the random mask is blurred: more, larger regions",
    "data/streams/*/shape": "[rows, cols] of each image (default: a square of the width)",
    "components": "the neurons: name → kind, size and options",
    "components/*/size": "how many units",
    "components/*/activation": "phi(z), with its derivative dphi",
    "components/*/tau": "state: time constant of the integration",
    "components/*/dt": "state: Euler step (z += dt/tau · (−leak·z + input))",
    "components/*/leak": "state: how strongly z decays toward 0",
    "components/*/kwta": "keep only the k most active units (the rest 0); 0, the default: all",
    "components/*/target": "error: the component (compartment) it compares with its prediction mu",
    "components/*/precision": "error: e = precision · (target − mu)",
    "components/*/loss": "error: gaussian (e = target − mu) or softmax (e = target − softmax(mu))",
    "components/*/feedback": "error: drive its target with −e (the predictive-coding pull)",
    "components/*/about": "a note on what the component is",
    "cables": "the synapses: name → from, to, weights and learning rule",
    "cables/*/from": "the source: a component or 'component.compartment' (default its output)",
    "cables/*/to": "the destination: a component or 'component.compartment' (default the one a cable drives)",
    "cables/*/transform": "dense (learned weights), fixed (random, never learned) or identity (sizes equal)",
    "cables/*/tied": "share the weights of another cable (no rule of its own)",
    "cables/*/transpose": "tied: use the other cable's weights transposed",
    "cables/*/scale": "multiplies what the cable delivers",
    "cables/*/init": "how the weights are drawn",
    "cables/*/init/dist": "normal, uniform, xavier, constant, or samples (rows from training examples)",
    "cables/*/init/scale": "the distribution's scale (uniform: half-width; normal: standard deviation)",
    "cables/*/init/offset": "added to every drawn weight, e.g. uniform with scale 0.05 and offset 0.05 draws from [0, 0.1)",
    "cables/*/init/fan": "scale by √(6/fan): 'in' (the source's size) or 'out' (the destination's)",
    "cables/*/bias": "add a learned bias (tied, untransposed: the other cable's)",
    "cables/*/gate": "multiply what the cable delivers, element by element, by this compartment",
    "cables/*/mask/zero_diagonal": "no self-connections",
    "cables/*/mask/groups": "connections only within each of this many equal groups",
    "cables/*/mask/band": "connections only between units at most this far apart",
    "cables/*/response": "dot (W·x) or neg_sqdist (−‖x − w_i‖², for competitive prototypes)",
    "cables/*/rule/*/scale": "multiplies the rule's learning term (not its decay)",
    "cables/*/rule/hebbian/decay": "subtract decay·W from each update",
    "cables/*/rule/hebbian/w_max": "soft bound: the term is multiplied by (w_max − W)",
    "cables/*/lr": "this cable's own learning rate (default: the optimizer's)",
    "cables/*/about": "a note on what the cable is",
    "schedule": "what a trial does: phases and updates, for training, for prediction and (sample) for generating "
                "from a prior",
    "schedule/sample": "generates from draws of the prior: a phase of it clamps one input or state to prior; its "
                       "read is the sample (plots/samples.png, metric log_px)",
    "schedule/encode": "settles the state schedule.sample draws on each training image; the prior is fitted to "
                       "where it ends (default: where schedule.predict leaves it)",
    "schedule/*": "an ordered list of phases and updates",
    "schedule/*/[]/phase": "the phase's name",
    "schedule/*/[]/steps": "settling steps (0: one sweep of the instant components)",
    "schedule/*/[]/clamp": "components held at data, a number, (hold) the value the phases before left, or (prior, in "
                            "schedule.sample) draws of the prior; {value, beta} nudges a state instead",
    "schedule/*/[]/clamp/*/value": "what the nudge pulls toward",
    "schedule/*/[]/init": "where free states start: zero, feedforward or keep (the last phase's values)",
    "schedule/*/[]/snapshot": "a name rules can read this phase's final values under ('comp@name')",
    "schedule/*/[]/read": "predict: the readout; sample: what a draw generates",
    "schedule/*/[]/update": "the cables whose ΔW is formed now and applied through the optimizer",
    "train": "epochs, the optimizer and its learning rate, BLAS threads",
    "train/epochs": "passes over the training examples",
    "train/evaluate_every": "measure the metrics after every this many epochs and after the last (default 1): for "
                            "metrics that cost more than training, such as log_px; the epochs between record their time",
    "train/keep_best": "end with the weights of the epoch whose validation value of this metric was best (needs "
                       "data.validation_fraction)",
    "train/lr_decay": "multiply every learning rate of the optimizer's steps by factor after the listed epochs "
                      "(at: [60, 90]) or after every so many (every: 30)",
    "train/lr_decay/factor": "what each decay multiplies the learning rates by",
    "train/lr_decay/at": "the epochs after which the rates decay",
    "train/lr_decay/every": "the rates decay after every this many epochs",
    "train/stop_after": "stop once this many epochs pass without a better validation value of keep_best's metric",
    "data/validation_fraction": "the fraction of the training examples held out to choose the best epoch (never "
                                "the test set)",
    "train/optimizer/*": "the optimizer's parameters (defaults filled in)",
    "train/optimizer/*/lr": "the learning rate",
    "train/optimizer/momentum/momentum": "how much of the last step carries into the next",
    "train/optimizer/*/beta1": "Adam: decay of the first moment",
    "train/optimizer/*/beta2": "Adam: decay of the second moment",
    "train/optimizer/*/eps": "added to the denominator",
    "train/optimizer/rmsprop/rho": "decay of the running mean square",
    "metrics": "what each epoch reports, on the train and test splits",
    "prior": "the prior schedule.sample draws from: a Gaussian mixture fitted by EM to the values schedule.predict "
             "leaves in the state sample clamps, on the training examples (refitted whenever the model has changed)",
    "monitors": "what a run records before training and after every epoch, into monitors.npz and its plots",
    "monitors/record": "compartments schedule.predict computes ('z1', 'e2.e'), on the first held-out examples",
    "monitors/weights": "cables whose weights' spread (percentiles) is recorded",
    "monitors/samples": "a compartment the model generates (a dream, 'vf.s'): drawn after training in "
                        "plots/samples.png, as images when it is as wide as the data's",
    "monitors/examples": "how many held-out examples the recorded compartments are shown (default 4)",
    "monitors/steps": "also record the compartments after every step of schedule.predict's last phase (spikes, "
                      "membrane potentials, settling), each epoch: monitors.npz steps/<name>, a raster or traces plot",
}


def about(path: tuple) -> str:
    """The description of the key at ``path`` — its property names, ``*`` for a name the user
    chose, ``[]`` for a list's item — or ''. A key of ABOUT matches segment by segment, ``*``
    standing for any one segment; the first match wins."""
    for key, text in ABOUT.items():
        pattern = key.split("/")
        if len(pattern) == len(path) and all(p in ("*", part) for p, part in zip(pattern, path)):
            return text
    return ""


def describe(node, path=()):
    """Give every property of the schema ``node`` that has no description the one ABOUT holds."""
    if not isinstance(node, dict):
        return
    for name, child in node.get("properties", {}).items():
        if isinstance(child, dict) and "description" not in child and about(path + (name,)):
            child["description"] = about(path + (name,))
        describe(child, path + (name,))
    for key in ("anyOf", "oneOf", "allOf"):
        for child in node.get(key, []):
            describe(child, path)
    if isinstance(node.get("additionalProperties"), dict):
        describe(node["additionalProperties"], path + ("*",))
    if isinstance(node.get("items"), dict):
        describe(node["items"], path + ("[]",))
