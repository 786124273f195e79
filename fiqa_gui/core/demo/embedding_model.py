"""The generative embedding model behind the synthetic demo data.

The demo embeddings are **not computed from pixels**. Each embedding is drawn from a documented
generative model, using the same parameters that drove the image renderer (identity, pose,
expression, lighting, degradation kind and strength), so that it behaves like a real face model in
the ways SPEC.md §5 describes. All directions are random unit vectors in R^d (d = 512 by default);
in high dimension they are nearly orthogonal, and no coordinate has a special meaning.

Model constants (drawn once from the seed):

- ``m``      the common *low-information* direction: where images with little identity information
             end up, whatever the identity. Identity vectors have a small component along it too
             (``beta``), so it is close to the dataset's mean direction, as in real face models.
- ``d_k``    one direction per degradation kind k (blur, noise, ...), orthogonal to ``m``.
- ``P_j``    nuisance directions shared by all identities (yaw, roll, smile, eye openness,
             lighting x/y, dimness): pose and lighting move every face the same way a little.
- ``u_c``    one unit identity vector per identity c:
             ``u_c = beta_c m + sqrt(1 - beta_c^2) w_c`` with ``w_c`` a random unit vector
             orthogonal to ``m`` and ``beta_c ~ N(0.15, 0.07)`` clipped to [0, 0.5]: some
             identities sit closer to the average face than others, so distance from the common
             region is a good but imperfect quality cue, as on real data.

For an image of identity c with nuisance coefficients ``z`` (see ``nuisance_coefficients``),
degradation kind k and strength s in [0, 1]::

    a      = 1 - alpha_k s                        identity-signal weight, = true_quality / 100
    x_raw  = a (u_c + sigma_g sum_j z_j P_j)      identity + pose/expression/lighting variation
           + b s d_k                              pull toward the kind's shared direction
           + gamma s m                            pull toward the common low-information region
           + sqrt((a sigma_r)^2 + sigma_n^2) e    isotropic noise, e ~ N(0, I/d)
    x      = x_raw / ||x_raw||

The isotropic term is the sum of two parts: an image-specific variation ``a sigma_r r`` that,
like the identity, fades with degradation (a degraded image carries less detail), and a constant
model noise ``sigma_n n``; the sum of two isotropic Gaussians is one isotropic Gaussian, so it is
drawn once. A clean image (s = 0) is pure identity + variation + noise. Quality is therefore
exactly the identity-signal weight ``a``, and it shows geometrically as the distance from the
common region ``m`` and the kind directions — there is no special coordinate for degradation.

Calibration (d = 512, the defaults below; means measured over demo seeds, checked in
tests/test_demo_data.py): clean images of one identity ~0.70 (like real models, 0.6-0.8); clean
images of different identities ~0.03; a consistently degraded cluster (one kind, s ~0.55-0.8)
~0.80, tighter than a clean cluster, while the same photos' clean versions sit at ~0.57 from them;
degraded images (quality < 70) of different identities ~0.47, clearly positive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS: tuple[str, ...] = (
    "blur",
    "noise",
    "lowres",
    "jpeg",
    "occlusion",
    "underexposed",
    "overexposed",
)
CLEAN = "none"
ALL_KINDS: tuple[str, ...] = (CLEAN, *KINDS)

# alpha_k: identity signal lost per unit of strength (how destructive the kind is for a face model).
IDENTITY_LOSS: dict[str, float] = {
    CLEAN: 0.0,
    "blur": 0.75,
    "noise": 0.6,
    "lowres": 0.75,
    "jpeg": 0.5,
    "occlusion": 0.55,
    "underexposed": 0.65,
    "overexposed": 0.6,
}

N_NUISANCE = 7  # yaw, roll, smile, eye openness, light x, light y, dimness

_TAG_MODEL = 0x6D6F64  # "mod"
_TAG_IDENTITY = 0x696400  # "id"
_ID_BLOCK = 1024  # identity vectors are drawn in blocks of this many, each from its own seed


def identity_loss(kinds: np.ndarray) -> np.ndarray:
    """alpha_k for an array of kind indices into ``ALL_KINDS``."""
    table = np.array([IDENTITY_LOSS[k] for k in ALL_KINDS], dtype=np.float64)
    return table[np.asarray(kinds, dtype=np.int64)]


def true_quality(kind: str, strength: float) -> float:
    """Ground-truth quality in [0, 100]: 100 times the identity-signal weight ``a``."""
    return 100.0 * (1.0 - IDENTITY_LOSS[kind] * float(np.clip(strength, 0.0, 1.0)))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@dataclass
class EmbeddingModel:
    """The model constants for one seed; ``embed`` maps image parameters to embeddings."""

    seed: int = 0
    dim: int = 512
    beta: float = 0.15  # mean component of identity vectors along the common direction m
    beta_spread: float = 0.07  # its spread: some identities look more "average" than others
    sigma_g: float = 0.3  # weight of the shared pose/expression/lighting directions
    sigma_r: float = 0.55  # image-specific variation (fades with degradation)
    sigma_n: float = 0.2  # constant model noise
    b: float = 0.6  # pull toward the degradation kind's direction per unit strength
    gamma: float = 0.5  # pull toward the common low-information direction per unit strength
    # Variants for sweeps (the defaults leave the demo model as documented above):
    bunching: float = 0.0  # c > 0 adds c·o (o a fixed unit vector) to every unit row, so all
    #   cosines rise to about (cos + c²)/(1 + c²): c = 1.5 puts them in ~0.6-0.95, like dlib's
    fading_variation: bool = True  # False: the image-specific variation does not fade with
    #   degradation, so degraded clusters are no tighter than clean ones (as with a real model)
    _consts: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng([self.seed, _TAG_MODEL, self.dim])
        g = rng.standard_normal((1 + len(KINDS) + N_NUISANCE, self.dim))
        q, _ = np.linalg.qr(g.T)  # orthonormal columns: m, d_k..., P_j...
        basis = q.T * np.sign(np.einsum("ij,ij->i", q.T, g))[:, None]
        self._consts = {
            "m": basis[0],
            "kind_dirs": np.vstack([np.zeros(self.dim), basis[1 : 1 + len(KINDS)]]),
            "nuisance": basis[1 + len(KINDS) :],
        }
        if self.bunching > 0:  # its own generator: the default constants stay as they were
            o = np.random.default_rng([self.seed, _TAG_MODEL, self.dim, 1]).standard_normal(
                self.dim)
            o -= basis.T @ (basis @ o)
            self._consts["offset"] = o / np.linalg.norm(o)

    @property
    def common_direction(self) -> np.ndarray:
        """The unit vector m of the common low-information region."""
        return self._consts["m"].copy()

    def identity_vectors(self, identities: np.ndarray) -> np.ndarray:
        """Unit identity vectors u_c (float64) for an array of non-negative identity indices.

        Drawn in fixed blocks with their own seeds, so identity c gets the same vector however
        many identities exist and whatever chunk asks for it.
        """
        identities = np.asarray(identities, dtype=np.int64)
        out = np.empty((identities.size, self.dim))
        blocks = identities // _ID_BLOCK
        for blk in np.unique(blocks):
            beta, w = self._identity_block(int(blk))
            sel = blocks == blk
            k = identities[sel] % _ID_BLOCK
            out[sel] = beta[k, None] * self._consts["m"] + np.sqrt(1.0 - beta[k, None] ** 2) * w[k]
        return out

    def _identity_block(self, blk: int) -> tuple[np.ndarray, np.ndarray]:
        """(beta_c, w_c) for identities blk*1024 .. blk*1024+1023; the last few are cached."""
        cache = self._consts.setdefault("blocks", {})
        if blk not in cache:
            rng = np.random.default_rng([self.seed, _TAG_IDENTITY, blk])
            m = self._consts["m"]
            w = rng.standard_normal((_ID_BLOCK, self.dim))
            w -= np.outer(w @ m, m)
            beta = np.clip(rng.normal(self.beta, self.beta_spread, _ID_BLOCK), 0.0, 0.5)
            if len(cache) >= 4:
                cache.pop(next(iter(cache)))
            cache[blk] = (beta, _unit_rows(w))
        return cache[blk]

    def embed(
        self,
        identities: np.ndarray,
        nuisance: np.ndarray,
        kinds: np.ndarray,
        strengths: np.ndarray,
        noise: np.ndarray,
    ) -> np.ndarray:
        """Embeddings (N x d float32, unit rows) from image parameters.

        identities: (N,) identity indices; nuisance: (N, 7) coefficients from
        ``nuisance_coefficients``; kinds: (N,) indices into ``ALL_KINDS`` (0 = clean);
        strengths: (N,) in [0, 1]; noise: (N, d) standard normal draws (the vector e * sqrt(d)).
        """
        kinds = np.asarray(kinds, dtype=np.int64)
        s = np.clip(np.asarray(strengths, dtype=np.float64), 0.0, 1.0)
        s = np.where(kinds == 0, 0.0, s)
        a = 1.0 - identity_loss(kinds) * s
        x = self.identity_vectors(identities)
        x += self.sigma_g * (np.asarray(nuisance, dtype=np.float64) @ self._consts["nuisance"])
        x *= a[:, None]
        x += (self.b * s)[:, None] * self._consts["kind_dirs"][kinds]
        x += np.outer(self.gamma * s, self._consts["m"])
        fade = a if self.fading_variation else np.ones_like(a)
        tau = np.sqrt((fade * self.sigma_r) ** 2 + self.sigma_n**2) / np.sqrt(self.dim)
        x += tau[:, None] * noise
        x = _unit_rows(x)
        if self.bunching > 0:
            x = _unit_rows(x + self.bunching * self._consts["offset"])
        return x.astype(np.float32)


def bunched_model(seed: int = 0, dim: int = 128) -> EmbeddingModel:
    """The sweeps' second model: 128-d like the real check, cosines bunched (every pair between
    about 0.6 and 0.95, like dlib's) and degraded clusters no tighter than clean ones."""
    return EmbeddingModel(seed=seed, dim=dim, bunching=1.5, fading_variation=False)


def nuisance_coefficients(
    yaw_deg: np.ndarray,
    roll_deg: np.ndarray,
    smile: np.ndarray,
    eye_open: np.ndarray,
    light_x: np.ndarray,
    light_y: np.ndarray,
    dim: np.ndarray,
) -> np.ndarray:
    """Nuisance coefficients z (N x 7), each roughly in [-1, 1], from rendering parameters."""
    cols = [
        np.asarray(yaw_deg, dtype=np.float64) / 40.0,
        np.asarray(roll_deg, dtype=np.float64) / 12.0,
        np.asarray(smile, dtype=np.float64),
        (np.asarray(eye_open, dtype=np.float64) - 0.8) / 0.3,
        np.asarray(light_x, dtype=np.float64),
        np.asarray(light_y, dtype=np.float64),
        (1.0 - np.asarray(dim, dtype=np.float64)) / 0.3,
    ]
    return np.stack(cols, axis=-1)
