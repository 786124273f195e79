"""From photos to embeddings: find the face, align it, embed it with dlib or the user's model.

The ingest stage's way in for curators who start from photos instead of an `.npy`: a run over a
`Dataset` of photos yields aligned crops (what the model saw), one embedding per photo with a face,
its raw norm, and a report of the photos without one. Work is staged in chunks so a cancelled or
killed run resumes. Heavy optional packages (dlib, onnxruntime) are imported only when used.
"""
