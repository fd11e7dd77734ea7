// Sortable, filterable, paginated tables over the JSON the report embeds
// (zeek_proxy/report/render.py). No library: a few functions over arrays of rows.
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("zp-data").textContent);
  var PAGE = 50;

  function text(value) { return value === null || value === undefined ? "" : String(value); }

  function Table(name, spec, options) {
    var root = document.getElementById(name);
    this.spec = spec;
    this.options = options || {};
    this.columns = spec.columns;
    this.enums = spec.enums || {};
    this.rows = spec.rows;
    this.view = spec.rows;
    this.page = 0;
    this.sortKey = null;
    this.sortDir = 1;
    this.query = "";
    this.group = null;
    this.search = root.querySelector("input[type=search]");
    this.count = root.querySelector(".count");
    this.chip = root.querySelector(".chip");
    this.body = root.querySelector("tbody");
    this.prev = root.querySelector("button.prev");
    this.next = root.querySelector("button.next");
    this.index = {};
    for (var i = 0; i < this.columns.length; i++) { this.index[this.columns[i].key] = i; }
    this.haystack = this.rows.map(function (row) { return this.rowText(row).toLowerCase(); }, this);
    this.header(root.querySelector("thead"));
    var self = this;
    this.search.addEventListener("input", function () { self.query = self.search.value; self.apply(); });
    this.prev.addEventListener("click", function () { self.page -= 1; self.draw(); });
    this.next.addEventListener("click", function () { self.page += 1; self.draw(); });
    var clear = root.querySelector("button.clear");
    if (clear) {
      clear.addEventListener("click", function () {
        self.setGroup(null);
        if (location.hash.indexOf("#group=") === 0) { history.replaceState(null, "", "#alerts"); }
      });
    }
    this.apply();
  }

  Table.prototype.cell = function (row, i) {
    var column = this.columns[i], item = row[i];
    if (column.type === "enum") { return text(this.enums[column.key][item]); }
    return text(item);
  };

  Table.prototype.rowText = function (row) {
    var parts = [];
    for (var i = 0; i < this.columns.length; i++) { parts.push(this.cell(row, i)); }
    return parts.join(" \u0001 ");
  };

  Table.prototype.header = function (thead) {
    var tr = document.createElement("tr"), self = this;
    this.columns.forEach(function (column, i) {
      var th = document.createElement("th");
      th.textContent = column.label;
      th.title = "sort by " + column.label;
      th.addEventListener("click", function () { self.sortBy(i, th); });
      tr.appendChild(th);
    });
    if (this.options.link) { var th = document.createElement("th"); th.textContent = ""; tr.appendChild(th); }
    thead.appendChild(tr);
    this.ths = tr.children;
  };

  Table.prototype.sortBy = function (i, th) {
    this.sortDir = this.sortKey === i ? -this.sortDir : (this.columns[i].type === "num" ? -1 : 1);
    this.sortKey = i;
    for (var j = 0; j < this.ths.length; j++) { this.ths[j].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", this.sortDir > 0 ? "ascending" : "descending");
    this.apply();
  };

  Table.prototype.setGroup = function (group) {
    this.group = group;
    if (this.chip) {
      this.chip.parentNode.hidden = !group;
      this.chip.textContent = group ? "group " + group.join(" \u2192 ") : "";
    }
    this.apply();
  };

  Table.prototype.apply = function () {
    var terms = this.query.toLowerCase().split(/\s+/).filter(Boolean), self = this, keep = [];
    var g = this.group, gi = g && [this.index.src, this.index.dst, this.index.port];
    for (var r = 0; r < this.rows.length; r++) {
      var row = this.rows[r], hay = this.haystack[r], ok = true;
      for (var t = 0; t < terms.length && ok; t++) { ok = hay.indexOf(terms[t]) >= 0; }
      if (ok && g) { ok = text(row[gi[0]]) === g[0] && text(row[gi[1]]) === g[1] && text(row[gi[2]]) === g[2]; }
      if (ok) { keep.push(row); }
    }
    if (this.sortKey !== null) {
      var k = this.sortKey, dir = this.sortDir, numeric = this.columns[k].type === "num";
      keep.sort(function (a, b) {
        var x = numeric ? a[k] : self.cell(a, k), y = numeric ? b[k] : self.cell(b, k);
        if (x === y) { return 0; }
        if (x === null || x === "") { return 1; }
        if (y === null || y === "") { return -1; }
        return (x < y ? -1 : 1) * dir;
      });
    }
    this.view = keep;
    this.page = 0;
    this.draw();
  };

  Table.prototype.draw = function () {
    var pages = Math.max(1, Math.ceil(this.view.length / PAGE));
    this.page = Math.min(Math.max(this.page, 0), pages - 1);
    var start = this.page * PAGE, rows = this.view.slice(start, start + PAGE), body = this.body, self = this;
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      if (self.index.allowed_by !== undefined && row[self.index.allowed_by] && self.options.markAllowed) {
        tr.className = "allowed";
      }
      self.columns.forEach(function (column, i) {
        var td = document.createElement("td");
        td.textContent = self.cell(row, i);
        if (column.type === "num") { td.className = "num"; }
        tr.appendChild(td);
      });
      if (self.options.link) {
        var td = document.createElement("td"), a = document.createElement("a");
        a.href = self.options.link(row, self);
        a.textContent = "alerts \u2192";
        td.appendChild(a);
        tr.appendChild(td);
      }
      fragment.appendChild(tr);
    });
    body.replaceChildren(fragment);
    var total = this.spec.total, held = this.rows.length;
    this.count.textContent = (this.view.length ? (start + 1) + "\u2013" + (start + rows.length) : "0") +
      " of " + this.view.length.toLocaleString("en-US") +
      (this.view.length !== held ? " (filtered from " + held.toLocaleString("en-US") + ")" : "") +
      (held < total ? "; the page holds " + held.toLocaleString("en-US") + " of " + total.toLocaleString("en-US") : "");
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
  };

  var alerts = new Table("alerts", DATA.alerts, { markAllowed: true });
  // A group's link is an anchor, #group=SOURCE|DESTINATION|PORT: it filters the alert
  // table to that group, and can be bookmarked or sent.
  new Table("groups", DATA.groups, {
    link: function (row, table) {
      var i = table.index;
      return "#group=" + encodeURIComponent([text(row[i.src]), text(row[i.dst]), text(row[i.port])].join("|"));
    }
  });
  function fromHash() {
    var match = /^#group=(.*)$/.exec(location.hash);
    if (!match) { return; }
    var key = decodeURIComponent(match[1]).split("|");
    if (key.length === 3) {
      alerts.setGroup(key);
      document.getElementById("alerts").scrollIntoView();
    }
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();
  document.body.setAttribute("data-tables", "ready");
})();
