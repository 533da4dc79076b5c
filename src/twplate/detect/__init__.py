"""Text boxes in a photo: resize and normalise (:mod:`.preprocess`), run the DB detector
(:mod:`.detector`), turn its probability map into boxes (:mod:`.postprocess`)."""
