"""Contract section 2: the DVCQG integration adapter (`/adapter`): auth, share and integration."""
from __future__ import annotations

import hmac
from typing import Any, Callable

from flask import Blueprint, Response, jsonify, request
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from mock_portal.clock import iso_now
from mock_portal.state import portal
from mock_portal.world import Procedure, short_code

bp = Blueprint("adapter", __name__, url_prefix="/adapter")

# Dossier status codes (TrangThaiHoSo) of the contract.
DOSSIER_STATUSES = {
    "1": "Mới đăng ký", "2": "Được tiếp nhận", "3": "Không được tiếp nhận", "4": "Đang xử lý",
    "5": "Yêu cầu bổ sung giấy tờ", "6": "Yêu cầu thực hiện nghĩa vụ tài chính",
    "7": "Công dân yêu cầu rút hồ sơ", "8": "Dừng xử lý", "9": "Đã xử lý xong",
    "10": "Đã trả kết quả",
}
_CHANNELS = {"in_person": "1", "online": "2", "postal": "3"}
_STAMP = validate.Regexp(r"^\d{14}$", error="expected yyyyMMddHHmmss")


def answer(error_code: str, message: str, result: list[Any] | None = None) -> Response:
    """The adapter's envelope."""
    return jsonify({"error_code": error_code, "message": message, "result": result or []})


class _Code(fields.String):
    """A code sent as a string or a number; kept as a string."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class DossierSchema(Schema):
    """A dossier of `DongBoHoSoMC`: the keys we check; every other key is kept as sent."""

    class Meta:
        unknown = INCLUDE

    MaHoSo = fields.String(required=True, validate=validate.Length(min=1, max=100))
    MaTTHC = fields.String(required=True, validate=validate.Length(min=1))
    TenTTHC = fields.String()
    TrangThaiHoSo = _Code(required=True, validate=validate.OneOf(list(DOSSIER_STATUSES)))
    KenhThucHien = _Code(validate=validate.OneOf(["1", "2", "3"]))
    NgayTiepNhan = fields.String(validate=_STAMP)
    NgayHenTra = fields.String(validate=_STAMP)
    DuocThanhToanTrucTuyen = _Code()


@bp.post("/auth")
def auth() -> Response:
    """Log in with username/password; answers a session that expires after SESSION_TTL."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str)
                                             for k in ("username", "password")):
        return jsonify({"error_code": "02", "message": "Thiếu username hoặc password"})
    state = portal()
    expected = state.world.adapter_users.get(body["username"])
    if expected is None or not hmac.compare_digest(expected.encode(), body["password"].encode()):
        return jsonify({"error_code": "01", "message": "Sai tên đăng nhập hoặc mật khẩu"})
    return jsonify({"error_code": "00", "message": "Thành công",
                    "session": state.issue_session(body["username"])})


def _thu_tuc(p: Procedure) -> dict[str, Any]:
    return {
        "MATTHC": p.code, "TENTTHC": p.name,
        "LINHVUCTHUCHIEN": [{"MALINHVUC": short_code("LV", p.field), "TENLINHVUC": p.field}]
        if p.field else [],
        "CACHTHUCTHUCHIEN": [{"KENH": _CHANNELS[c]} for c in p.channels if c in _CHANNELS],
        "COQUANTHUCHIEN": [{"MADONVI": short_code("CQ", a), "TENDONVI": a} for a in p.agencies],
        "TRANGTHAI": "1",
    }


def lay_thu_tuc(body: dict[str, Any], unit: str) -> Response:
    """`LayThuTuc`: one procedure of the catalogue by `maTTHC`."""
    code = body.get("maTTHC")
    if not isinstance(code, str) or not code:
        return answer("02", "Thiếu tham số maTTHC")
    proc = portal().world.listed_by_code.get(code)
    if proc is None:
        return answer("01", "Không tìm thấy thủ tục")
    return answer("00", "Thành công", [_thu_tuc(proc)])


def lay_dvc(body: dict[str, Any], unit: str) -> Response:
    """`LayDVC`: online services and the units they are integrated for (`APDUNGDVC`)."""
    code = body.get("maTTHC")
    if code is not None and not isinstance(code, str):
        return answer("02", "maTTHC không hợp lệ")
    state = portal()
    world = state.world
    bulk = str(state.config.get("LAYDVC_BULK") or "full")
    if not code and bulk == "refuse":
        return answer("02", "Thiếu tham số maTTHC")  # a deployment that refuses the bulk call
    codes = [code] if code else sorted(world.integrations)
    result = []
    for c in codes:
        units = world.integrations.get(c)
        if not units:
            continue
        proc = world.known[c]
        result.append({
            # The online service's code is the procedure's code on this portal [ours].
            "MADVC": proc.code, "TENDVC": proc.name, "MATTHC": proc.code, "TENTTHC": proc.name,
            "TENLINHVUC": proc.field,
            "APDUNGDVC": [{"MACOQUANTHUCHIEN": u, "MUCDO": lvl}
                          for u, lvl in sorted(units.items())],
        })
    if not code and bulk.startswith("truncate:"):
        # A deployment that caps bulk answers, saying how many there were [ours: `total`].
        cap = int(bulk.split(":", 1)[1])
        return jsonify({"error_code": "00", "message": "Thành công", "total": len(result),
                        "result": result[:cap]})
    return answer("00", "Thành công", result)


def dong_bo_ho_so(body: dict[str, Any], unit: str) -> Response:
    """`DongBoHoSoMC`: keep new dossiers (`isUpdating` "False") or update known ones ("True")."""
    updating = body.get("isUpdating")
    data = body.get("data")
    if updating not in ("True", "False") or not isinstance(data, list) or not data:
        return answer("02", "isUpdating phải là \"True\"/\"False\" và data là danh sách hồ sơ")
    try:
        dossiers = DossierSchema(many=True).load(data)
    except ValidationError as exc:
        return answer("02", f"Hồ sơ không hợp lệ: {exc.messages}")
    state = portal()
    with state.lock:  # all or nothing
        seen: set[str] = set()
        for d in dossiers:
            exists = d["MaHoSo"] in state.dossiers or d["MaHoSo"] in seen
            if updating == "False" and exists:
                return answer("04", f"Hồ sơ đã tồn tại: {d['MaHoSo']}")
            if updating == "True" and d["MaHoSo"] not in state.dossiers:
                return answer("01", f"Không tìm thấy hồ sơ: {d['MaHoSo']}")
            seen.add(d["MaHoSo"])
        for d, raw in zip(dossiers, data):
            previous = state.dossiers.get(d["MaHoSo"])
            # The dossier is kept exactly as sent (updates merge); our bookkeeping sits beside it.
            state.dossiers[d["MaHoSo"]] = {
                "dossier": {**(previous["dossier"] if previous else {}), **raw},
                "madonvi": unit, "received_at": iso_now(),
                "updates": previous["updates"] + 1 if previous else 0,
            }
            state.dossier_log.append({"MaHoSo": d["MaHoSo"], "isUpdating": updating,
                                      "TrangThaiHoSo": d["TrangThaiHoSo"], "madonvi": unit})
    return answer("00", "Thành công")


def tra_cuu_ho_so(body: dict[str, Any], unit: str) -> Response:
    """`TraCuuHoSo`: a kept dossier by `mahoso`, or an empty result."""
    code = body.get("mahoso")
    if not isinstance(code, str) or not code:
        return answer("02", "Thiếu tham số mahoso")
    state = portal()
    with state.lock:
        kept = state.dossiers.get(code)
        return answer("00", "Thành công", [dict(kept["dossier"])] if kept else [])


class RatingSchema(Schema):
    """A rating of `DongBoDanhGia` [ours]."""

    class Meta:
        unknown = INCLUDE

    MaHoSo = fields.String(required=True, validate=validate.Length(min=1, max=100))
    MaTTHC = fields.String(required=True, validate=validate.Length(min=1))
    MucDoHaiLong = _Code(required=True, validate=validate.OneOf(["1", "2", "3"]))
    NgayDanhGia = fields.String(required=True, validate=_STAMP)


def dong_bo_danh_gia(body: dict[str, Any], unit: str) -> Response:
    """`DongBoDanhGia`: keep ratings (one per dossier; a later one replaces it)."""
    data = body.get("data")
    if not isinstance(data, list) or not data:
        return answer("02", "data phải là danh sách đánh giá")
    try:
        ratings = RatingSchema(many=True).load(data)
    except ValidationError as exc:
        return answer("02", f"Đánh giá không hợp lệ: {exc.messages}")
    state = portal()
    with state.lock:
        for r, raw in zip(ratings, data):
            state.ratings[r["MaHoSo"]] = {"rating": dict(raw), "madonvi": unit, "received_at": iso_now()}
    return answer("00", "Thành công")


Service = Callable[[dict[str, Any], str], Response]
SHARE: dict[str, Service] = {"LayThuTuc": lay_thu_tuc, "LayDVC": lay_dvc}
INTEGRATION: dict[str, Service] = {"DongBoHoSoMC": dong_bo_ho_so, "TraCuuHoSo": tra_cuu_ho_so,
                                   "DongBoDanhGia": dong_bo_danh_gia}


def _dispatch(services: dict[str, Service]) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return answer("02", "Body phải là một đối tượng JSON")
    state = portal()
    if not state.session_valid(body.get("session")):
        return answer("03", "Phiên làm việc không hợp lệ hoặc đã hết hạn")
    unit = body.get("madonvi")
    if not isinstance(unit, str) or unit not in state.world.units:
        return answer("02", "madonvi không hợp lệ")
    name = body.get("service")
    service = services.get(name) if isinstance(name, str) else None
    if service is None:
        return answer("02", f"service không hợp lệ tại {request.path}")
    return service(body, unit)


@bp.post("/share")
def share() -> Response:
    """Catalogue services: `LayThuTuc`, `LayDVC`."""
    return _dispatch(SHARE)


@bp.post("/integration")
def integration() -> Response:
    """Dossier services: `DongBoHoSoMC`, `TraCuuHoSo`, `DongBoDanhGia`."""
    return _dispatch(INTEGRATION)
