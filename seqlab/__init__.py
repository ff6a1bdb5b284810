"""seqlab: build and compare sequence architectures on text classification.

Importing this package is cheap, and so is importing any module of it:
TensorFlow is loaded only when a model is built, loaded or trained, or when a
vocabulary is built (`seqlab.data.vectorize` on a cache miss). So the Home,
Train and Compare pages paint without it; the Data page loads it for its
token picture the first time a dataset's vocabulary is built, and reads the
vocabulary from the store's cache after that.
"""

__version__ = "0.1.0"
