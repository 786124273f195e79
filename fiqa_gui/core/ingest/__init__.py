"""Getting the data in: the CSV manifest, the ImageFolder tree, embeddings, image checks, and
`load_data`, which validates them together into a `Dataset`."""
