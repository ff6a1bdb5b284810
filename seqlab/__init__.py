"""seqlab: build and compare sequence architectures on text classification.

Importing this package is cheap: nothing here imports TensorFlow, so pages that
only read the run store (home, Data, Compare) paint without loading it.
"""

__version__ = "0.1.0"
