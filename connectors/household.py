"""户政 household registration: identity record and electronic ID photo.

Protocol: ``POST /v1/identity {"gmsfhm": id}`` answers synchronously with the identity in the
registry's pinyin-initial field names (xm 姓名, xb 性别, csrq 出生日期, mz 民族, hjdz 户籍地址,
hzxm 户主姓名, yhzgx 与户主关系, zpbh 照片编号); the photo is fetched by a second request,
``GET /v1/photos/{zpbh}``, which returns PNG bytes.

An officer may ask for either part (``Requester.items``, from the batch's ``household_items``):
identity only is one request, no photo is fetched and the record's ``photo`` is null; photo
only still asks for the identity (the photo number comes only with it, and the answer is
checked to be about this person), but keeps none of it: the identity fields are null, and are
not even read (a code the connector does not know cannot fail a photo).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from connectors._shape import ShapeError, answer_shape, coded, iso_date, obj, text
from connectors.base import Answer, Connector, Found, NotFound, Requester, Subject, field_doc
from connectors.errors import AgencyBadAnswer

#: GB/T 2261.1 sex codes
SEX_CODES: Mapping[str, str] = {"1": "male", "2": "female"}
#: GB 3304 ethnicity codes seen in Siping (the registry sends codes, officers read names)
ETHNICITY_CODES: Mapping[str, str] = {
    "01": "汉族",
    "02": "蒙古族",
    "03": "回族",
    "10": "朝鲜族",
    "11": "满族",
    "12": "侗族",
    "15": "土家族",
}
#: GB/T 4761 relation-to-household-head codes (the subset the registry uses here)
RELATION_CODES: Mapping[str, str] = {
    "02": "户主",
    "10": "配偶",
    "20": "子",
    "30": "女",
    "51": "父亲",
    "52": "母亲",
    "70": "兄弟姐妹",
    "99": "其他",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: the parts of the registry's answer an officer may ask for, in canonical order
ITEMS: tuple[str, ...] = ("identity", "photo")


@dataclass(frozen=True, slots=True)
class IdPhoto:
    """The electronic ID photo (电子头像) as the registry holds it."""

    content_type: str = field_doc("MIME type of the photo as served (image/png)")
    size_bytes: int = field_doc("size of the image in bytes")
    sha256: str = field_doc("hex SHA-256 of the image bytes, to prove which photo was shown")
    data_base64: str = field_doc("the image bytes, base64-encoded")


@dataclass(frozen=True, slots=True)
class HouseholdRecord:
    """Identity as registered with the household registry (户籍), and the ID photo: each
    part null when the officer did not ask for it."""

    name: str | None = field_doc("registered name (姓名)", default=None)
    sex: str | None = field_doc(
        "'male' or 'female' (性别); agrees with the 17th ID digit", default=None
    )
    birth_date: str | None = field_doc(
        "ISO birth date (出生日期); agrees with ID digits 7-14", default=None
    )
    ethnicity: str | None = field_doc("ethnicity (民族), e.g. 汉族, 满族", default=None)
    address: str | None = field_doc("registered permanent address (户籍地址)", default=None)
    household_head: str | None = field_doc(
        "name of the head of the household (户主姓名)", default=None
    )
    relation_to_head: str | None = field_doc(
        "relation to the household head (与户主关系), e.g. 户主, 配偶", default=None
    )
    photo: IdPhoto | None = field_doc(
        "electronic ID photo (电子头像); null when only the identity was asked for", default=None
    )


@dataclass
class HouseholdConnector(Connector):
    name: ClassVar[str] = "household"
    title: ClassVar[str] = "户政"
    max_group: ClassVar[int] = 1
    record_type: ClassVar[type] = HouseholdRecord

    async def query(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        return [await self._one(subject, requester) for subject in subjects]

    async def _one(self, subject: Subject, requester: Requester) -> Answer:
        # Organisations have no household registration: nothing to ask.
        if subject.kind != "person":
            return NotFound()
        response = await self._send(
            "POST", "/v1/identity", requester, json_body={"gmsfhm": subject.id_number}
        )
        with answer_shape(self.name):
            data = obj(response.json(self.name), "answer")
            result = text(data, "result")
            if result == "not_found":
                return NotFound()
            if result != "found":
                raise ShapeError("field 'result' has an unknown value")
            person = obj(data.get("data"), "data")
            if text(person, "gmsfhm") != subject.id_number:
                raise ShapeError("answer is for a different subject")
            photo_ref = text(person, "zpbh")
        items = requester.items or ITEMS
        photo = await self._photo(photo_ref, requester) if "photo" in items else None
        if "identity" not in items:
            return Found(HouseholdRecord(photo=photo))
        with answer_shape(self.name):
            return Found(_record(person, photo))

    async def _photo(self, ref: str, requester: Requester) -> IdPhoto:
        # A photo number the registry no longer knows: ask for the identity again.
        path = f"/v1/photos/{quote(ref, safe='')}"
        response = await self._send("GET", path, requester, forgotten=(404,))
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip() != "image/png":
            raise AgencyBadAnswer(self.name, f"expected a PNG photo, got {content_type!r}")
        body = response.body
        # A PNG ends with an IEND chunk; without it the image was cut short or garbled.
        if not body.startswith(PNG_SIGNATURE) or not body.endswith(b"IEND\xaeB`\x82"):
            raise AgencyBadAnswer(self.name, "photo is not a complete PNG image")
        return IdPhoto(
            content_type="image/png",
            size_bytes=len(body),
            sha256=hashlib.sha256(body).hexdigest(),
            data_base64=base64.b64encode(body).decode("ascii"),
        )


def _record(person: Mapping[str, Any], photo: IdPhoto | None) -> HouseholdRecord:
    return HouseholdRecord(
        name=text(person, "xm"),
        sex=coded(text(person, "xb"), "xb", SEX_CODES),
        birth_date=iso_date(text(person, "csrq"), "csrq"),
        ethnicity=coded(text(person, "mz"), "mz", ETHNICITY_CODES),
        address=text(person, "hjdz"),
        household_head=text(person, "hzxm"),
        relation_to_head=coded(text(person, "yhzgx"), "yhzgx", RELATION_CODES),
        photo=photo,
    )
