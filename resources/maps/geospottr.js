/* GeoSpottr's map layers: plain JavaScript over Leaflet, loaded once per map page (core/maps.py writes
 * it next to Leaflet and calls `GeoSpottr.page(map, options)` then `GeoSpottr.layer(map, name, args)`, with
 * the arguments as JSON). Labels in `args` arrive HTML-escaped by core/maps.py. Messages to the desktop app
 * go through `window.geospottrSend` (console lines with the bridge prefix).
 * Checked by tests/core/test_maps.py (`node --check` where Node.js is installed). */
(function () {
  'use strict';
  var layers = {};

  /* The page base: basemap, optional OSM tiles that vanish when offline, and `geospottrFit`. */
  function page(map, args) {
    window.geospottrSend = function (msg) { console.log(args.prefix + JSON.stringify(msg)); };
    window.geospottrMap = map;
    map.getContainer().style.background = args.sea;
    map.createPane('basemap').style.zIndex = 150;
    map.attributionControl.setPrefix(false);
    L.geoJSON(window.GEOSPOTTR_WORLD, {pane: 'basemap', interactive: false, attribution: args.attribution,
      style: {color: args.border, weight: 0.7, fillColor: args.land, fillOpacity: 1}}).addTo(map);
    document.body.dataset.tiles = 'none';
    if (args.tiles) {
      var tiles = L.tileLayer(args.tiles, {maxZoom: 19, attribution: args.tiles_attribution,
        className: 'gs-tiles'}).addTo(map);
      var loaded = false;
      document.body.dataset.tiles = 'loading';
      tiles.on('tileload', function () { loaded = true; document.body.dataset.tiles = 'online'; });
      tiles.on('tileerror', function () {
        if (!loaded) { map.removeLayer(tiles); document.body.dataset.tiles = 'offline'; }
      });
    }
    // Fit to `bounds` now and again whenever the view is resized (a page is often built while its
    // widget is hidden), until the user moves the map.
    var fit = null;
    // `padding` (optional): a function giving {tl: [x, y], br: [x, y]} pixels to keep free around the
    // points (labels), measured at each fit since labels are sized only once drawn.
    window.geospottrFit = function (bounds, maxZoom, padding) {
      fit = function () {
        if (bounds.length === 0) { map.setView([20, 10], 2); return; }
        if (padding) {
          map.options.zoomSnap = 0.25;  // finer zoom steps: the labels' room is kept without zooming far out
          var size = map.getSize(), pad = padding();
          // Never more padding than the view has: the points keep at least a fifth of each direction.
          var sx = Math.min(1, 0.8 * size.x / Math.max(1, pad.tl[0] + pad.br[0]));
          var sy = Math.min(1, 0.8 * size.y / Math.max(1, pad.tl[1] + pad.br[1]));
          map.fitBounds(L.latLngBounds(bounds), {maxZoom: maxZoom, animate: false,
            paddingTopLeft: [pad.tl[0] * sx, pad.tl[1] * sy], paddingBottomRight: [pad.br[0] * sx, pad.br[1] * sy]});
          return;
        }
        map.fitBounds(L.latLngBounds(bounds).pad(0.15), {maxZoom: maxZoom, animate: false});
      };
      fit();
    };
    map.on('resize', function () { if (fit) fit(); });
    // Fit the same bounds again (after labels changed the room they need), unless the user moved the map.
    window.geospottrRefit = function () { if (fit) fit(); };
    map.on('dragstart', function () { fit = null; });
  }

  layers.candidates = function (map, args) {
    var data = args.data;
    var layer = L.featureGroup().addTo(map);
    data.forEach(function (d) {
      var marker = L.circleMarker([d.lat, d.lon], {
        radius: d.radius, color: d.top ? '#111' : '#555', weight: d.top ? 3 : 1,
        fillColor: d.color, fillOpacity: 0.85, className: d.top ? 'gs-candidate gs-top' : 'gs-candidate'});
      marker.bindPopup(d.popup);
      // Labels stay on: with no tiles there are no place names on the map. 'auto' keeps them inside.
      marker.bindTooltip(d.label, {permanent: true, direction: 'auto', offset: [d.radius * 0.7, 0],
                                   className: d.top ? 'gs-label' : 'gs-name'});
      marker.addTo(layer);
    });
    window.geospottrCandidates = layer;
    window.geospottrFit(data.map(function (d) { return [d.lat, d.lon]; }), 7);
  };

  layers.dataset = function (map, args) {
    var cities = args.cities, points = args.points, cluster = args.cluster;
    var places = args.places;
    var overlays = {}, bounds = [], markers = {};
    cities.forEach(function (c) {
      var group;
      if (cluster) {
        group = L.markerClusterGroup({showCoverageOnHover: false, maxClusterRadius: 40,
          iconCreateFunction: function (cl) {
            return L.divIcon({html: '<div style="background:' + c.color + '">' + cl.getChildCount() + '</div>',
                              className: 'gs-cluster', iconSize: L.point(34, 34)});
          }});
      } else {
        group = L.featureGroup();
      }
      c.group = group;
      group.addTo(map);
      overlays[c.legend] = group;
      var area = c.bbox ? L.rectangle([[c.bbox[1], c.bbox[0]], [c.bbox[3], c.bbox[2]]], {})
                        : L.circle([c.lat, c.lon], {radius: c.radius_m});
      area.setStyle({color: c.color, weight: 2, dashArray: '6 4', fillOpacity: 0.06, interactive: false,
                     className: 'gs-area'});
      area.addTo(map);
      bounds.push(area.getBounds().getNorthEast(), area.getBounds().getSouthWest());
    });
    // One marker per point, added to its city's group in one call (the cluster plugin's addLayers
    // clusters a batch at once, where addLayer per point took seconds at 27,500 points). Clicks and
    // hovers are heard once per group, and a point's tooltip is made on its first hover.
    var byCity = cities.map(function () { return []; });
    points.forEach(function (p) {
      var c = cities[p[2]];
      var marker = L.circleMarker([p[0], p[1]], {radius: 5, color: '#fff', weight: 1, fillColor: c.color,
                                                 fillOpacity: 0.9, className: 'gs-point'});
      marker.gsId = p[3];
      marker.gsName = c.name;
      markers[p[3]] = marker;
      byCity[p[2]].push(marker);
      bounds.push([p[0], p[1]]);
    });
    function pointOf(e) { var m = e.propagatedFrom || e.layer; return m && m.gsId !== undefined ? m : null; }
    cities.forEach(function (c, i) {
      if (cluster) { c.group.addLayers(byCity[i]); }
      else { byCity[i].forEach(function (m) { c.group.addLayer(m); }); }
      // Hovering asks the host for the image's thumbnail, which it hands back through geospottrThumb.
      c.group.on('mouseover', function (e) {
        var m = pointOf(e);
        if (!m) return;
        if (!m.getTooltip()) { m.bindTooltip(m.gsName, {className: 'gs-thumb'}); m.openTooltip(); }
        window.geospottrSend({type: 'hover', id: m.gsId});
      });
      c.group.on('click', function (e) {
        var m = pointOf(e);
        if (m) window.geospottrSend({type: 'image', id: m.gsId});
      });
    });
    window.geospottrThumb = function (id, src) {
      var m = markers[id];
      if (!m) return;
      var box = document.createElement('div'), img = document.createElement('img'), name = document.createElement('div');
      img.src = src;
      name.innerHTML = m.gsName;  // already escaped
      box.appendChild(img);
      box.appendChild(name);
      if (m.getTooltip()) { m.setTooltipContent(box); } else { m.bindTooltip(box, {className: 'gs-thumb'}); }
    };
    // Place names (GeoNames) under the points, more of them as the map zooms in.
    map.createPane('places').style.zIndex = 350;
    var placeLayers = places.map(function (p) {
      return {zoom: p[3], chars: p[0].length, layer: L.marker([p[1], p[2]], {pane: 'places', interactive: false,
        keyboard: false,
        icon: L.divIcon({className: 'gs-place', html: '<span></span>' + p[0], iconSize: null, iconAnchor: [3, 7]})})};
    });
    function showPlaces() {
      // Biggest first; a name that would overlap one already shown waits for a closer zoom.
      var z = map.getZoom(), taken = [];
      placeLayers.forEach(function (p) {
        var show = z >= p.zoom;
        if (show) {
          var at = map.latLngToLayerPoint(p.layer.getLatLng());
          var box = [at.x - 4, at.y - 8, at.x + 6.5 * p.chars + 10, at.y + 8];
          show = !taken.some(function (b) { return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]; });
          if (show) taken.push(box);
        }
        if (show) { if (!map.hasLayer(p.layer)) p.layer.addTo(map); }
        else if (map.hasLayer(p.layer)) map.removeLayer(p.layer);
      });
    }
    map.on('zoomend', showPlaces);
    // The project's own cities by name, above the points and their clusters (which would hide them).
    map.createPane('cities').style.zIndex = 640;
    cities.forEach(function (c) {
      L.marker([c.lat, c.lon], {pane: 'cities', interactive: false, keyboard: false,
        icon: L.divIcon({className: 'gs-city-name', html: c.name, iconSize: null, iconAnchor: [-8, 20]})}).addTo(map);
    });
    if (places.length) map.attributionControl.addAttribution(args.places_attribution);
    if (cities.length) L.control.layers(null, overlays, {collapsed: cities.length > 12}).addTo(map);
    window.geospottrPointCount = points.length;
    window.geospottrFit(bounds, 12);
    showPlaces();
  };

  layers.pick = function (map, args) {
    var cities = args.cities, markers = {};
    var idle = {radius: 6, color: '#333', weight: 1.5, fillColor: '#fff', fillOpacity: 0.95};
    var chosen = {radius: 9, color: '#fff', weight: 2.5, fillColor: '#1f6feb', fillOpacity: 1};
    cities.forEach(function (c) {
      var marker = L.circleMarker([c.lat, c.lon], Object.assign({className: 'gs-city'}, idle));
      marker.bindTooltip(c.name, {permanent: true, direction: 'auto', offset: [7, 0], className: 'gs-name'});
      marker.on('click', function (e) {
        L.DomEvent.stopPropagation(e);
        window.geospottrSelect(c.slug);
        window.geospottrSend({type: 'pick', slug: c.slug});
      });
      marker.addTo(map);
      markers[c.slug] = marker;
    });
    var selected = null, point = null;
    window.geospottrSelect = function (slug) {
      if (point) { map.removeLayer(point); point = null; }
      if (selected && markers[selected]) markers[selected].setStyle(idle);
      selected = slug;
      if (markers[slug]) { markers[slug].setStyle(chosen); markers[slug].bringToFront(); }
    };
    map.on('click', function (e) {
      window.geospottrSelect(null);
      point = L.circleMarker(e.latlng, Object.assign({className: 'gs-guess', interactive: false}, chosen)).addTo(map);
      window.geospottrSend({type: 'click', lat: e.latlng.lat, lon: L.Util.wrapNum(e.latlng.lng, [-180, 180], true)});
    });
    window.geospottrFit(cities.map(function (c) { return [c.lat, c.lon]; }), 6);
  };

  /* Where a permanent tooltip goes for each direction: its offset from the marker, and its box in
   * container pixels for a label of w x h at point p. */
  var OFFSETS = {left: [-8, 0], right: [8, 0], top: [0, -10], bottom: [0, 10]};
  function labelBox(p, w, h, side) {
    var o = OFFSETS[side];
    if (side === 'right') { return [p.x + o[0], p.y - h / 2, p.x + o[0] + w, p.y + h / 2]; }
    if (side === 'left') { return [p.x + o[0] - w, p.y - h / 2, p.x + o[0], p.y + h / 2]; }
    if (side === 'top') { return [p.x - w / 2, p.y + o[1] - h, p.x + w / 2, p.y + o[1]]; }
    return [p.x - w / 2, p.y + o[1], p.x + w / 2, p.y + o[1] + h];
  }
  function overlap(a, b) {
    return Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])) *
           Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  }
  /* Put each label (in order) on the side of its marker where it stays inside the map and covers no
   * other marker and no label placed before it; `labels` are {marker, order: [sides by preference]}.
   * Returns whether a label changed sides (the fit's padding then changes too). */
  function placeLabels(map, labels) {
    var changed = false;
    var size = map.getSize(), view = [2, 2, size.x - 2, size.y - 22];  // clear of the credits line
    var dots = labels.map(function (l) {
      var p = map.latLngToContainerPoint(l.marker.getLatLng()), r = l.marker.getRadius() + 3;
      return [p.x - r, p.y - r, p.x + r, p.y + r];
    });
    var placed = [];
    labels.forEach(function (l, i) {
      var tip = l.marker.getTooltip(), el = tip && tip.getElement();
      if (!el) { return; }
      var w = el.offsetWidth, h = el.offsetHeight, p = map.latLngToContainerPoint(l.marker.getLatLng());
      var best = l.order[0], cost = Infinity;
      l.order.forEach(function (side) {
        var b = labelBox(p, w, h, side), c = 4 * (w * h - overlap(b, view));  // outside the map costs most
        dots.forEach(function (d, j) { if (j !== i) { c += 2 * overlap(b, d); } });
        placed.forEach(function (q) { c += 2 * overlap(b, q); });
        if (c < cost - 0.5) { cost = c; best = side; }
      });
      if (tip.options.direction !== best) {
        changed = true;
        tip.options.direction = best;
        tip.options.offset = L.point(OFFSETS[best]);
        l.marker.closeTooltip();
        l.marker.openTooltip();
      }
      l.side = best;
      placed.push(labelBox(p, w, h, best));
    });
    return changed;
  }

  layers.reveal = function (map, args) {
    var points = args.points, bounds = [], labels = [];
    var truth = points.filter(function (p) { return p.role === 'truth'; })[0];
    // Preferred sides: the truth's label above it; each guess's label on its side away from the truth
    // (west: left), yours left and the model's right when both guessed one point. `placeLabels` then
    // moves a label that would leave the map or cover a marker or another label.
    var guesses = points.filter(function (p) { return p.role !== 'truth'; });
    var same = guesses.length === 2 && guesses[0].lat === guesses[1].lat && guesses[0].lon === guesses[1].lon;
    var sides = {truth: 'top'};
    guesses.forEach(function (p) {
      sides[p.role] = same ? (p.role === 'human' ? 'left' : 'right')
                           : (truth && p.lon < truth.lon ? 'left' : 'right');
    });
    var all = ['top', 'right', 'left', 'bottom'];
    points.forEach(function (p) {
      if (truth && p !== truth) {
        L.polyline([[truth.lat, truth.lon], [p.lat, p.lon]], {color: p.color, weight: 2, dashArray: '5 5',
                    interactive: false}).addTo(map);
      }
      var marker = L.circleMarker([p.lat, p.lon], {radius: p.role === 'truth' ? 10 : 8, color: '#fff',
        weight: 2.5, fillColor: p.color, fillOpacity: 1, className: 'gs-reveal gs-' + p.role});
      var side = sides[p.role] || 'right';
      marker.bindTooltip(p.label, {permanent: true, direction: side, className: 'gs-reveal-label',
                                   offset: OFFSETS[side]});
      marker.addTo(map);
      labels.push({side: side, marker: marker,
                   order: [side].concat(all.filter(function (s) { return s !== side; }))});
      bounds.push([p.lat, p.lon]);
    });
    // Keep room for the labels inside the map: fit the points with padding as wide as the labels are.
    // Zoom up to 10: guesses a few km from the truth still stand apart with room for their labels.
    window.geospottrFit(bounds, 10, function () {
      var pad = {left: 0, right: 0, top: 0, bottom: 0};
      labels.forEach(function (l) {
        var el = l.marker.getTooltip() && l.marker.getTooltip().getElement();
        if (!el) { return; }
        if (l.side === 'top' || l.side === 'bottom') {
          pad[l.side] = Math.max(pad[l.side], el.offsetHeight + 16);
          pad.left = Math.max(pad.left, el.offsetWidth / 2 + 8); pad.right = Math.max(pad.right, el.offsetWidth / 2 + 8);
        } else { pad[l.side] = Math.max(pad[l.side], el.offsetWidth + 18); }
      });
      return {tl: [pad.left + 12, pad.top + 12], br: [pad.right + 12, pad.bottom + 44]};  // clear of the credits
    });
    // Labels that moved need other padding: fit again once for their new sides, then place them there.
    var settle = function () { if (placeLabels(map, labels)) { window.geospottrRefit(); placeLabels(map, labels); } };
    settle();
    map.on('resize', settle);
    map.on('moveend zoomend', function () { placeLabels(map, labels); });
  };

  layers.recap = function (map, args) {
    var rounds = args.rounds, colors = args.colors, bounds = [];
    rounds.forEach(function (r) {
      ['human', 'model'].forEach(function (role) {
        var g = r[role];
        if (!g) { return; }
        L.polyline([[r.truth.lat, r.truth.lon], [g.lat, g.lon]], {color: colors[role], weight: 1.5,
                    dashArray: '4 4', opacity: 0.8, interactive: false}).addTo(map);
        L.circleMarker([g.lat, g.lon], {radius: 6, color: '#fff', weight: 2, fillColor: colors[role],
          fillOpacity: 1, className: 'gs-recap gs-' + role}).bindTooltip(g.label).addTo(map);
        bounds.push([g.lat, g.lon]);
      });
      L.circleMarker([r.truth.lat, r.truth.lon], {radius: 8, color: '#fff', weight: 2, fillColor: colors.truth,
        fillOpacity: 1, className: 'gs-recap gs-truth'})
        .bindTooltip(String(r.number), {permanent: true, direction: 'center', className: 'gs-round'})
        .bindPopup(r.truth.label).addTo(map);
      bounds.push([r.truth.lat, r.truth.lon]);
    });
    window.geospottrFit(bounds, 8, function () { return {tl: [24, 24], br: [24, 24]}; });
    legend(map, [[colors.truth, 'the photo (round number)'], [colors.human, 'your guess'],
                 [colors.model, "the model's guess"]]);
  };

  /* A small key in the map's corner: [[colour, text], ...] (texts are ours, not user data). */
  function legend(map, rows) {
    var control = L.control({position: 'bottomleft'});
    control.onAdd = function () {
      var box = L.DomUtil.create('div', 'gs-legend');
      rows.forEach(function (r) {
        var row = L.DomUtil.create('div', '', box), dot = L.DomUtil.create('span', 'gs-legend-dot', row);
        dot.style.background = r[0];
        row.appendChild(document.createTextNode(r[1]));
      });
      return box;
    };
    control.addTo(map);
  }

  window.GeoSpottr = {
    page: page,
    // `window.geospottrReady` turns true on the first animation frame after every layer drawn so far
    // (`geospottrReadyAt`: its performance.now()); a layer that draws in chunks returns a promise.
    layer: function (map, name, args) {
      window.geospottrReady = false;
      Promise.resolve(layers[name](map, args)).then(function () {
        requestAnimationFrame(function () {
          window.geospottrReadyAt = performance.now();
          window.geospottrReady = true;
        });
      });
    },
    layers: Object.keys(layers)
  };
})();
