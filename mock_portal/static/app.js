// mock_portal's single-page app: like dichvucong.gov.vn, the page names nothing until this
// script has asked the catalogue API (list with q = code -> id -> detail).
(function () {
  "use strict";
  var root = document.getElementById("root");
  var marker = "/dich-vu-cong-truc-tuyen";
  var path = window.location.pathname;
  var at = path.indexOf(marker);
  var api = (at >= 0 ? path.slice(0, at) : "") + "/api/v1";
  var parts = at >= 0 ? path.slice(at + marker.length).split("/").filter(Boolean) : [];
  var code = parts.length ? decodeURIComponent(parts[0]) : "";

  function show(html) { root.innerHTML = html; }
  function text(value) {
    var span = document.createElement("span");
    span.textContent = value == null ? "" : String(value);
    return span.innerHTML;
  }
  function post(url, body) {
    return fetch(api + url, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)
    }).then(function (r) { return r.json(); });
  }
  function notFound() {
    show('<h1 id="not-found">Không tìm thấy thủ tục</h1>' +
         '<p>Thủ tục bạn tìm không tồn tại hoặc đã ngừng cung cấp trực tuyến.</p>');
  }

  if (!code) {
    show("<h1>Cổng Dịch vụ công quốc gia</h1><p>Tìm kiếm dịch vụ công để bắt đầu.</p>");
    return;
  }
  show('<p aria-busy="true">Đang tải…</p>');
  post("/submitting/formality/list-all-public-formality-by-citizen",
       {limit: 50, lastId: "", q: code, categoryId: "", departmentCode: ""})
    .then(function (answer) {
      var items = (answer && answer.code === "OK" && answer.data && answer.data.items) || [];
      var item = items.filter(function (i) { return i.code === code; })[0];
      if (!item) { return null; }
      return post("/configuring/formality/get-formality-by-citizen", {id: item.id});
    })
    .then(function (answer) {
      var d = answer && answer.code === "OK" ? answer.data : null;
      var live = d && (d.state === "ACTIVE" || d.state === "UPDATED");
      var online = d && (d.executionMethods || []).some(function (m) {
        return m.submissionMethod === "ONLINE";
      });
      if (!live || !online) { notFound(); return; }
      show("<h1>" + text(d.name) + "</h1>" +
           '<p>Mã thủ tục: <strong id="code">' + text(d.code) + "</strong></p>" +
           '<form method="post" action="#"><button type="submit" id="submit">Nộp hồ sơ</button></form>');
    })
    .catch(function () {
      show("<h1>Hệ thống đang bận</h1><p>Vui lòng thử lại sau.</p>");
    });
})();
