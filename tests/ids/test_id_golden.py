"""Golden vectors: the encoding is frozen.

Every public ID ever handed out is in a link, a bookmark or a spreadsheet somewhere. These
tests fail if anything that decides the string of a row changes: the alphabet, the body
length, the blocklist, the key derivation, the permutation, the markers or the sqids
release. If one fails, the change breaks every existing link: revert it, do not update
the expected values.
"""

import hashlib
import json
from importlib.metadata import version

import pytest
import sqids.constants

from podium.ids import DEVELOPMENT_ID_KEY, DOMAIN_SIZE, Entity, IdCodec, id_example
from podium.ids import codec as codec_module
from podium.ids.blocklist import BLOCKLIST

OTHER_KEY = "golden-vector-other-key: 7f3c9a1e"

GOLDEN_VECTORS = [
    (DEVELOPMENT_ID_KEY, Entity.USER, 1, "u_NkM7Ied"),
    (DEVELOPMENT_ID_KEY, Entity.USER, 2, "u_zBI8ttW"),
    (DEVELOPMENT_ID_KEY, Entity.USER, 3, "u_KgZJKG6"),
    (DEVELOPMENT_ID_KEY, Entity.USER, 1000, "u_sMx2AsP"),
    (DEVELOPMENT_ID_KEY, Entity.USER, 2**31, "u_gMg8YrU"),
    (DEVELOPMENT_ID_KEY, Entity.USER, DOMAIN_SIZE - 1, "u_U6kArYa"),
    (DEVELOPMENT_ID_KEY, Entity.EVENT, 1, "e_k6NdySo"),
    (DEVELOPMENT_ID_KEY, Entity.EVENT, 2, "e_h9yvwRQ"),
    (DEVELOPMENT_ID_KEY, Entity.EVENT, 3, "e_gJ1S9ld"),
    (DEVELOPMENT_ID_KEY, Entity.EVENT, 1000, "e_HZwbOl5"),
    (DEVELOPMENT_ID_KEY, Entity.EVENT, 2**31, "e_lLYKZn6"),
    (DEVELOPMENT_ID_KEY, Entity.EVENT, DOMAIN_SIZE - 1, "e_K0WsXuy"),
    (DEVELOPMENT_ID_KEY, Entity.PROJECT, 1, "p_k6J6nYu"),
    (DEVELOPMENT_ID_KEY, Entity.PROJECT, 2, "p_rvUS8wt"),
    (DEVELOPMENT_ID_KEY, Entity.PROJECT, 3, "p_pRZwaRf"),
    (DEVELOPMENT_ID_KEY, Entity.PROJECT, 1000, "p_rcolu3B"),
    (DEVELOPMENT_ID_KEY, Entity.PROJECT, 2**31, "p_PfOJLHO"),
    (DEVELOPMENT_ID_KEY, Entity.PROJECT, DOMAIN_SIZE - 1, "p_XnMZf7t"),
    (DEVELOPMENT_ID_KEY, Entity.VOTE, 1, "v_pV6sFHf"),
    (DEVELOPMENT_ID_KEY, Entity.VOTE, 2, "v_Jriis4C"),
    (DEVELOPMENT_ID_KEY, Entity.VOTE, 3, "v_HM5a9li"),
    (DEVELOPMENT_ID_KEY, Entity.VOTE, 1000, "v_VJxwMHP"),
    (DEVELOPMENT_ID_KEY, Entity.VOTE, 2**31, "v_LWmOimd"),
    (DEVELOPMENT_ID_KEY, Entity.VOTE, DOMAIN_SIZE - 1, "v_KTbjWtk"),
    (DEVELOPMENT_ID_KEY, Entity.REFERRAL, 1, "r_SxqJ6kd"),
    (DEVELOPMENT_ID_KEY, Entity.REFERRAL, 2, "r_P59hGHr"),
    (DEVELOPMENT_ID_KEY, Entity.REFERRAL, 3, "r_p8oE42u"),
    (DEVELOPMENT_ID_KEY, Entity.REFERRAL, 1000, "r_9LxLCSy"),
    (DEVELOPMENT_ID_KEY, Entity.REFERRAL, 2**31, "r_37j61VF"),
    (DEVELOPMENT_ID_KEY, Entity.REFERRAL, DOMAIN_SIZE - 1, "r_nI2zPd1"),
    # Added with the trash (docs/trash.md); every vector above is unchanged by it.
    (DEVELOPMENT_ID_KEY, Entity.TRASH, 1, "t_s65rvcQ"),
    (DEVELOPMENT_ID_KEY, Entity.TRASH, 2, "t_NsLXhKb"),
    (DEVELOPMENT_ID_KEY, Entity.TRASH, 3, "t_U3BXEDC"),
    (DEVELOPMENT_ID_KEY, Entity.TRASH, 1000, "t_lkra0E0"),
    (DEVELOPMENT_ID_KEY, Entity.TRASH, 2**31, "t_c83UIzw"),
    (DEVELOPMENT_ID_KEY, Entity.TRASH, DOMAIN_SIZE - 1, "t_JNp0SOo"),
    (OTHER_KEY, Entity.USER, 1, "u_E9cAVtI"),
    (OTHER_KEY, Entity.USER, 2, "u_OzlM7Q8"),
    (OTHER_KEY, Entity.USER, 3, "u_AgLUxuV"),
    (OTHER_KEY, Entity.USER, 1000, "u_DfqeM9E"),
    (OTHER_KEY, Entity.USER, 2**31, "u_u5tfCyt"),
    (OTHER_KEY, Entity.USER, DOMAIN_SIZE - 1, "u_hG6AKnG"),
    (OTHER_KEY, Entity.EVENT, 1, "e_ps1yqBf"),
    (OTHER_KEY, Entity.EVENT, 2, "e_Za48KPv"),
    (OTHER_KEY, Entity.EVENT, 3, "e_Lssa6mb"),
    (OTHER_KEY, Entity.EVENT, 1000, "e_ZWQlNnZ"),
    (OTHER_KEY, Entity.EVENT, 2**31, "e_ShJYSce"),
    (OTHER_KEY, Entity.EVENT, DOMAIN_SIZE - 1, "e_J2xZBOD"),
    (OTHER_KEY, Entity.PROJECT, 1, "p_OuT53zU"),
    (OTHER_KEY, Entity.PROJECT, 2, "p_8Zbu9PH"),
    (OTHER_KEY, Entity.PROJECT, 3, "p_PYzAWeM"),
    (OTHER_KEY, Entity.PROJECT, 1000, "p_Mrqxsj8"),
    (OTHER_KEY, Entity.PROJECT, 2**31, "p_UVcv63H"),
    (OTHER_KEY, Entity.PROJECT, DOMAIN_SIZE - 1, "p_ikodqLW"),
    (OTHER_KEY, Entity.VOTE, 1, "v_UVrwCcc"),
    (OTHER_KEY, Entity.VOTE, 2, "v_VCAi1CT"),
    (OTHER_KEY, Entity.VOTE, 3, "v_pXG5rb6"),
    (OTHER_KEY, Entity.VOTE, 1000, "v_H3c0zEX"),
    (OTHER_KEY, Entity.VOTE, 2**31, "v_qORcxID"),
    (OTHER_KEY, Entity.VOTE, DOMAIN_SIZE - 1, "v_kqSNeTs"),
    (OTHER_KEY, Entity.REFERRAL, 1, "r_q7A8wqy"),
    (OTHER_KEY, Entity.REFERRAL, 2, "r_uppR6Jy"),
    (OTHER_KEY, Entity.REFERRAL, 3, "r_k3lT6ja"),
    (OTHER_KEY, Entity.REFERRAL, 1000, "r_bq1XA58"),
    (OTHER_KEY, Entity.REFERRAL, 2**31, "r_yzKQnSL"),
    (OTHER_KEY, Entity.REFERRAL, DOMAIN_SIZE - 1, "r_t2DcMw6"),
]

# sha256 of the frozen parameters as serialised by _frozen_parameters(), and of the
# blocklist alone (so a failure says which one moved).
PARAMETERS_SHA256 = "be0c111f6745c6373042750f5e89d22c1ff46538148c9af58d60977ae537aab3"
BLOCKLIST_SHA256 = "0332b3cca45540212848fd47236f0b0bae579e8f51d3903f8809be0da94edebf"


def _blocklist_json() -> str:
    return json.dumps(sorted(BLOCKLIST))


def _frozen_parameters() -> str:
    return json.dumps(
        {
            "alphabet": codec_module.ALPHABET,
            "body_length": codec_module.BODY_LENGTH,
            "half_bits": codec_module.HALF_BITS,
            "rounds": codec_module.ROUNDS,
            "domain_size": codec_module.DOMAIN_SIZE,
            "number_offset": codec_module.NUMBER_OFFSET,
            "markers": {entity.value: marker for entity, marker in codec_module.MARKERS.items()},
            "root_key_person": codec_module._ROOT_KEY_PERSON.decode(),
            "round_key_person": codec_module._ROUND_KEY_PERSON.decode(),
            "development_id_key": DEVELOPMENT_ID_KEY,
            "blocklist": sorted(BLOCKLIST),
        },
        sort_keys=True,
    )


@pytest.mark.parametrize(("key", "entity", "seq", "expected"), GOLDEN_VECTORS)
def test_golden_vector_encodes_and_decodes(
    key: str, entity: Entity, seq: int, expected: str
) -> None:
    codec = IdCodec(key)
    assert codec.encode(entity, seq) == expected
    assert codec.decode(entity, expected) == seq


def test_blocklisted_encoding_is_replaced_and_its_raw_form_rejected() -> None:
    # Under the dev key, event 2417's first sqids candidate body is "CuNTN2E"; the
    # blocklist makes sqids move on to another. The raw form reads as the same number
    # but is not the canonical string, so it names nothing.
    codec = IdCodec(DEVELOPMENT_ID_KEY)
    assert codec.encode(Entity.EVENT, 2417) == "e_rcP0PuY"
    assert codec.decode(Entity.EVENT, "e_CuNTN2E") is None


def test_examples_are_stable() -> None:
    assert {entity: id_example(entity) for entity in Entity} == {
        Entity.USER: "u_NkM7Ied",
        Entity.EVENT: "e_k6NdySo",
        Entity.PROJECT: "p_k6J6nYu",
        Entity.VOTE: "v_pV6sFHf",
        Entity.REFERRAL: "r_SxqJ6kd",
        Entity.TRASH: "t_s65rvcQ",
    }


def test_frozen_parameters_hash_to_recorded_value() -> None:
    digest = hashlib.sha256(_frozen_parameters().encode()).hexdigest()
    assert digest == PARAMETERS_SHA256


def test_blocklist_hashes_to_recorded_value() -> None:
    assert len(BLOCKLIST) == 560
    assert hashlib.sha256(_blocklist_json().encode()).hexdigest() == BLOCKLIST_SHA256


def test_blocklist_is_a_verbatim_copy_of_sqids_0_5_2_default() -> None:
    assert set(sqids.constants.DEFAULT_BLOCKLIST) == BLOCKLIST


def test_alphabet_is_sqids_0_5_2_default() -> None:
    assert sqids.constants.DEFAULT_ALPHABET == codec_module.ALPHABET


def test_sqids_release_is_pinned() -> None:
    # sqids has no __version__; the installed distribution's metadata is the truth.
    assert version("sqids") == "0.5.2"


def test_domain_size_is_documented_value() -> None:
    assert DOMAIN_SIZE == 2**34 == 17_179_869_184
