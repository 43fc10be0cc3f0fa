"""Test data for roster imports: realistic Vietnamese members with consistent CCCDs."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta
from typing import Any

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
          "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE_M = ["Văn", "Đức", "Minh", "Quốc", "Hữu", "Công", "Thành", "Xuân"]
MIDDLE_F = ["Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mai", "Hồng", "Phương"]
GIVEN_M = ["An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khánh", "Long", "Nam", "Phúc",
           "Quân", "Sơn", "Thắng", "Tuấn", "Việt"]
GIVEN_F = ["Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hương", "Lan", "Linh", "Mai", "Ngân",
           "Nhung", "Thảo", "Trang", "Yến"]
BIRTH_PROVINCES = ["001", "027", "024", "030", "033", "036", "079", "038", "040", "022"]
VI_HEADERS = ["Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Mã số BHXH", "Số điện thoại",
              "Mã công đoàn cơ sở", "Ngày vào công đoàn", "Mã đoàn viên"]
EN_HEADERS = ["full_name", "birth_date", "sex", "personal_id", "insurance_number", "phone",
              "union_code", "join_date", "member_number"]


def cccd(birth: date, sex: str, rng: random.Random, serial: int | None = None) -> str:
    """A CCCD consistent with the birth date and sex."""
    century = (birth.year - 1900) // 100 * 2 + (1 if sex == "F" else 0)
    tail = serial if serial is not None else rng.randrange(1_000_000)
    return f"{rng.choice(BIRTH_PROVINCES)}{century}{birth.year % 100:02d}{tail:06d}"


def person(rng: random.Random, union_code: str, serial: int | None = None) -> dict[str, Any]:
    """One valid roster row as a dict of English field names."""
    sex = rng.choice("MF")
    name = " ".join([rng.choice(FAMILY), rng.choice(MIDDLE_M if sex == "M" else MIDDLE_F),
                     rng.choice(GIVEN_M if sex == "M" else GIVEN_F)])
    birth = date(1965, 1, 1) + timedelta(days=rng.randrange(365 * 40))
    joined = birth + timedelta(days=365 * 19 + rng.randrange(365 * 3))
    return {"full_name": name, "birth_date": birth.strftime("%d/%m/%Y"), "sex":
            "Nam" if sex == "M" else "Nữ", "personal_id": cccd(birth, sex, rng, serial),
            "insurance_number": f"{rng.randrange(10**9, 10**10)}",
            "phone": f"09{rng.randrange(10**8):08d}", "union_code": union_code,
            "join_date": joined.strftime("%d/%m/%Y"), "member_number": ""}


def people(n: int, union_code: str, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` valid rows with distinct personal IDs."""
    rng = random.Random(seed)
    return [person(rng, union_code, serial=i) for i in range(n)]


def to_csv(rows: list[dict[str, Any]], headers: list[str] | None = None,
           delimiter: str = ",") -> str:
    """Rows as CSV text under the given headers (Vietnamese by default)."""
    headers = headers or VI_HEADERS
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(f, "") for f in EN_HEADERS[:len(headers)]])
    return out.getvalue()
