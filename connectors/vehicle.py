"""交警大队车管所 vehicle office: vehicles registered to each subject.

Protocol: a batch endpoint, ``POST /v1/vehicles/query {"subjects": [{"id_number", "kind"}]}``
taking at most 50 identifiers per call (more is refused with 400). The answer lists one result
per identifier, in no promised order, so results are matched back by identifier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from connectors._shape import ShapeError, answer_shape, array, coded, iso_date, obj, text
from connectors.base import Answer, Connector, Found, NotFound, Requester, Subject, field_doc

#: the vehicle office's status words (机动车状态) mapped onto ours
STATUS_CODES: Mapping[str, str] = {
    "正常": "normal",
    "抵押": "mortgaged",
    "查封": "seized",
    "报废": "scrapped",
}
VIN_LENGTH = 17


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One registered motor vehicle."""

    plate: str = field_doc("number plate (号牌号码), e.g. 吉C12345")
    vehicle_type: str = field_doc("vehicle type (车辆类型), e.g. 小型轿车")
    brand_model: str = field_doc("brand and model (品牌型号)")
    vin_last6: str = field_doc("last 6 characters of the VIN (only these are kept)")
    registered_on: str = field_doc("ISO date of first registration (初次登记日期)")
    status: str = field_doc("'normal', 'mortgaged', 'seized' or 'scrapped'")


@dataclass(frozen=True, slots=True)
class VehicleRecord:
    """Every vehicle registered to the subject."""

    vehicles: list[Vehicle] = field_doc("vehicles registered, in order of registration")


@dataclass
class VehicleConnector(Connector):
    name: ClassVar[str] = "vehicle"
    title: ClassVar[str] = "车管所"
    max_group: ClassVar[int] = 50
    record_type: ClassVar[type] = VehicleRecord

    async def query(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        # The dispatcher sends at most max_group; split anyway so a larger call stays legal.
        answers: list[Answer] = []
        for start in range(0, len(subjects), self.max_group):
            answers.extend(await self._group(subjects[start : start + self.max_group], requester))
        return answers

    async def _group(self, subjects: Sequence[Subject], requester: Requester) -> list[Answer]:
        if not subjects:
            return []
        # The same person twice in one list is asked about once.
        unique = {s.id_number: s.kind for s in subjects}
        body = {"subjects": [{"id_number": i, "kind": k} for i, k in unique.items()]}
        response = await self._send("POST", "/v1/vehicles/query", requester, json_body=body)
        with answer_shape(self.name):
            results = array(obj(response.json(self.name), "answer"), "results")
            by_id: dict[str, Answer] = {}
            for item in results:
                data = obj(item, "result")
                id_number = text(data, "id_number")
                if id_number not in unique or id_number in by_id:
                    raise ShapeError("results do not match the identifiers asked")
                vehicles = [_vehicle(v) for v in array(data, "vehicles")]
                by_id[id_number] = Found(VehicleRecord(vehicles)) if vehicles else NotFound()
            if len(by_id) != len(unique):
                raise ShapeError("results do not match the identifiers asked")
        return [by_id[s.id_number] for s in subjects]


def _vehicle(item: Any) -> Vehicle:
    data = obj(item, "vehicle")
    vin = text(data, "vin")
    if len(vin) != VIN_LENGTH:
        raise ShapeError("field 'vin' is not 17 characters")
    return Vehicle(
        plate=text(data, "plate"),
        vehicle_type=text(data, "vehicle_type"),
        brand_model=f"{text(data, 'brand')} {text(data, 'model')}",
        vin_last6=vin[-6:],
        registered_on=iso_date(text(data, "registered"), "registered"),
        status=coded(text(data, "status"), "status", STATUS_CODES),
    )
