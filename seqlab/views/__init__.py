"""What each page shows, computed from the store and the data (no Streamlit).

One module per page (`home`, `data`, `train`, `compare`, `attention`,
`predict`) and one per thing several pages share (`datasets`: titles,
options and suggested settings; `runs`: run lists). A page reads its
widgets, calls one function of its module and places the result. Nothing
here imports TensorFlow at import time; `data.tokenization_view` loads it
(through `seqlab.data.vectorize`) when it builds a vocabulary.

This package imports none of its modules here, so a page loads only what it
uses.
"""
