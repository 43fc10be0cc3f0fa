"""The kinds of health facility a consent may name as its grantee (shared by models, services
and pages): code -> (Vietnamese label, English label)."""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

#: Facility types, in display order. Codes are stable (stored in consents); labels may change.
FACILITY_TYPES: Final = MappingProxyType({
    "commune-health-station": ("Trạm y tế xã, phường", "Commune health station"),
    "industrial-park-clinic": ("Phòng khám khu công nghiệp", "Industrial-park clinic"),
    "district-hospital": ("Bệnh viện, trung tâm y tế khu vực (huyện)", "District hospital"),
    "provincial-hospital": ("Bệnh viện tỉnh", "Provincial hospital"),
    "occupational-health-centre": ("Trung tâm bảo vệ sức khỏe lao động",
                                   "Occupational-health centre"),
    "private-clinic": ("Phòng khám tư nhân", "Private clinic"),
})

#: A facility code as in health-insurance data (mã cơ sở khám chữa bệnh): 5 digits.
FACILITY_CODE = re.compile(r"[0-9]{5}")


def is_facility_code(value: str) -> bool:
    """Whether ``value`` has the form of a facility code (5 ASCII digits)."""
    return FACILITY_CODE.fullmatch(value) is not None
