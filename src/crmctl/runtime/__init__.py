"""Runtime plane: deterministic evaluation of a package's behaviour (blueprint §4). Reads only the model."""
