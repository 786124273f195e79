"""What the scores and flags mean, in a paragraph each: the text of Help → What the scores
mean (and of anything else that explains them). Qt-free, so it is tested and could be printed
by the command line; thresholds are read from the flag parameters, so the text follows them."""

from __future__ import annotations

from dataclasses import dataclass

from fiqa_gui.core.labels.diagnostics import FlagParams


@dataclass(frozen=True)
class GuideEntry:
    key: str      # the score column or flag name
    title: str
    text: str


def _param(name: str, default: float) -> float:
    return float(getattr(FlagParams(), name, default))


def score_entries() -> list[GuideEntry]:
    return [
        GuideEntry("sdd", "SDD — SDD-FIQA", (
            "For each image, the cosine similarities to images of its own cluster (positives) "
            "and to images of other clusters (negatives) form two distributions; SDD is the "
            "Wasserstein-1 distance between them, min-max normalised to 0–100 over the dataset "
            "and averaged over K random repetitions (published defaults K = 12, m = 24 "
            "negatives, up to 24 positives). High = the image sits clearly with its own "
            "identity. 'Why this SDD' in the inspector draws both sets and the gap. Its known "
            "failure: a cluster of uniformly poor images is similar to itself, so SDD rates it "
            "high (the consistency trap).")),
        GuideEntry("sdd_signed", "SDD (signed)", (
            "The same distance carrying the sign of mean(positives) − mean(negatives): "
            "negative means the image resembles other identities more than its own, which "
            "raises the identity-suspect flag.")),
        GuideEntry("cr", "CR — CR-FIQA", (
            "The certainty ratio CCS / (NNCCS + 1 + ε): CCS is the cosine to the image's own "
            "class centre (leave-one-out mean, or your classifier head), NNCCS the cosine to "
            "the nearest other class centre. Higher = more certainly its own class. Like SDD "
            "it is computed from the embeddings alone, so it shares SDD's blind spot for "
            "clusters that are consistently poor.")),
        GuideEntry("iq", "iq — image quality", (
            "Model-free pixel cues in the spirit of OFIQ — luminance, exposure, dynamic range, "
            "a sharpness proxy, resolution, noise and JPEG blockiness — combined into 0–100. "
            "It knows nothing about identity; it catches blur, darkness and tiny crops that "
            "the embedding-based scores can miss.")),
        GuideEntry("quality", "Quality — the label the window ranks by", (
            "0–100: identity strength (model-free: how far the image is from the "
            "low-information region where degraded images of every identity gather, and its "
            "pixel cues) times anchored identity certainty (a CR-style margin measured "
            "against the cluster's anchors: your approved seeds, or proposed ones before "
            "that). Exports use it when you have not corrected an image. 'Re-score with "
            "approved seeds' recomputes it against your approved seeds.")),
        GuideEntry("band", "Dataset band and cluster tier", (
            "The outlined chip on a thumbnail is the dataset band: which third of the whole "
            "dataset the image's Quality falls in (high / mid / low). The seed set's cluster "
            "tier (the tier column of seeds.csv) is the third within the image's own cluster, "
            "so one image can be in the low dataset band and the high tier of its cluster. "
            "Your own tier (a filled chip, keys 1–4) overrides both in the exports.")),
    ]


def flag_entries() -> list[GuideEntry]:
    near = _param("near_dup_cos", 0.985)
    low = _param("low_iq", 30.0)
    return [
        GuideEntry("consistency_trap", "Consistency trap (cluster)", (
            "The cluster's images agree closely with each other but their typical image is "
            "poor by the model-free measures. SDD and CR, fed by those mutually similar "
            "images, rate the whole cluster high; do not trust its SDD ranking, look at the "
            "pictures and the Quality ranking instead.")),
        GuideEntry("score_shift", "Score shift (image and cluster)", (
            "An image clearly better than its cluster's typical one by the model-free "
            "measures that SDD or CR nevertheless rank in the lower half of the cluster; the "
            "cluster carries the flag when it has such images. Quality usually ranks them "
            "where they belong.")),
        GuideEntry("identity_suspect", "Identity suspect (image)", (
            "Negative signed SDD (more similar to other identities than to its own), or "
            "nearer another cluster's centre than its own (CCS < NNCCS); the explanation "
            "names that nearer cluster. Often a wrong-identity image (W marks it; Ctrl+M "
            "moves it).")),
        GuideEntry("near_duplicate", "Near duplicate (image, with a group)", (
            f"Cosine ≥ {near:g} to another image of its cluster: in practice copies of one "
            "photo (resized, re-encoded, lightly augmented). They inflate each other's "
            "positives, and a seed set needs only one of them.")),
        GuideEntry("singleton", "Singleton (image)", (
            "Alone in its cluster: there are no positives, so SDD is undefined for it.")),
        GuideEntry("low_iq", "Low image quality (image)", (
            f"Pixel quality iq below {low:g} of 100: dark, blurred, noisy or tiny.")),
        GuideEntry("unreadable", "Unreadable (image)", (
            "The file could not be decoded. It is kept (its embedding still counts) but has "
            "no pixel cues and no thumbnail.")),
    ]


def guide_html() -> str:
    """The whole guide as simple HTML (headings and paragraphs)."""
    import html

    def section(title: str, entries: list[GuideEntry]) -> str:
        return f"<h2>{html.escape(title)}</h2>" + "".join(
            f"<h3>{html.escape(e.title)}</h3><p>{html.escape(e.text)}</p>" for e in entries)

    return section("Scores", score_entries()) + section("Flags", flag_entries())
