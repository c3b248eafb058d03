// The bridge3d live viewer: the scene of Blender or FreeCAD as glTF, kept up to date from the WebSocket events.
// Loads GET /api/v1/{app}/view.glb (the whole scene, or only the objects an event names), moves objects whose
// transform changed (GET /api/v1/{app}/objects/{name}) and removes deleted ones. docs/VIEWER.md explains it.
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

const KEY_STORAGE = 'bridge3d.apiKey';
const TOPICS = ['object.*', 'scene.*', 'document.*'];
const DEBOUNCE_MS = 30;
const MAX_INCREMENTAL = 100; // more changed objects than this at once: reload the whole scene instead
const PING_MS = 60_000; // the gateway closes sockets that send nothing for BRIDGE3D_WS_IDLE_TIMEOUT (300 s)
const UNITS = { blender: 'm', freecad: 'mm' };
const $ = (id) => document.getElementById(id);

const query = new URLSearchParams(location.search);
const state = {
  app: query.get('app') === 'freecad' ? 'freecad' : 'blender',
  session: query.get('session') || '', // a session id is no secret: with API keys only its key can use it
  key: sessionStorage.getItem(KEY_STORAGE) || '',
  objects: new Map(), // name -> {info, node}
  selected: null,
  document: null, // FreeCAD: the document shown
  generation: 0, // bumped when the application or session changes: late answers for the old one are dropped
  socket: null,
  framed: false,
  listChanged: false, // objects were added, removed or replaced since the list was drawn
  updates: 0,
};

// ------------------------------------------------------------------ REST with the key and session headers
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

let keyPrompt = null;
function askForKey(reason) {
  if (!keyPrompt) {
    keyPrompt = new Promise((resolve) => {
      $('key-reason').textContent = reason;
      $('key').value = '';
      $('key-form').onsubmit = (event) => {
        event.preventDefault();
        state.key = $('key').value.trim();
        sessionStorage.setItem(KEY_STORAGE, state.key);
        $('key-dialog').close();
        keyPrompt = null;
        resolve();
        connectSocket();
      };
      $('key-dialog').showModal();
    });
  }
  return keyPrompt;
}

async function api(path, options = {}) {
  for (;;) {
    const headers = new Headers(options.headers);
    if (state.key) headers.set('X-API-Key', state.key);
    if (state.session) headers.set('X-Bridge3D-Session', state.session);
    const response = await fetch(path, { ...options, headers, cache: 'no-store' });
    if (response.status === 401) {
      await askForKey(state.key ? 'The gateway refused that key; enter it again.' : 'This gateway needs its API key.');
      continue;
    }
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try { message = (await response.json()).error.message; } catch { /* not an envelope */ }
      throw new ApiError(response.status, message);
    }
    return response;
  }
}

const appPath = (rest) => `/api/v1/${state.app}${rest}`;
const documentQuery = () =>
  (state.app === 'freecad' && state.document ? `document=${encodeURIComponent(state.document)}` : '');

function setStatus(text, kind = 'ok') {
  $('status').textContent = text;
  $('status').dataset.kind = kind;
}

// ------------------------------------------------------------------ three.js scene (Z up, as both applications)
THREE.Object3D.DEFAULT_UP.set(0, 0, 1);
const canvas = $('canvas');
const renderer = new THREE.WebGLRenderer({ canvas, antialias: true });
renderer.setPixelRatio(window.devicePixelRatio);
const scene = new THREE.Scene();
scene.background = new THREE.Color(0x22262c);
const camera = new THREE.PerspectiveCamera(40, 1, 0.01, 1000);
camera.position.set(7, -8, 5);
const headlight = new THREE.DirectionalLight(0xffffff, 2.2); // from the upper left of the viewer, wherever it looks
headlight.position.set(-1, 1.5, 0.5);
headlight.target.position.set(0, 0, -1);
camera.add(headlight, headlight.target);
scene.add(camera, new THREE.HemisphereLight(0xffffff, 0x404050, 0.9));
const grid = new THREE.GridHelper(20, 20, 0x5a6070, 0x3a404a);
grid.rotation.x = Math.PI / 2; // the XY plane
scene.add(grid);
const world = new THREE.Group();
scene.add(world);
const selectionBox = new THREE.BoxHelper(undefined, 0xffc400);
selectionBox.visible = false;
scene.add(selectionBox);
const controls = new OrbitControls(camera, canvas);
controls.addEventListener('change', requestRender);
const loader = new GLTFLoader();

let renderQueued = false;
function requestRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderer.render(scene, camera);
  });
}

new ResizeObserver(() => {
  const { clientWidth: width, clientHeight: height } = canvas.parentElement;
  renderer.setSize(width, height, false);
  camera.aspect = width / Math.max(height, 1);
  camera.updateProjectionMatrix();
  requestRender();
}).observe(canvas.parentElement);

function frameAll() {
  const box = new THREE.Box3().setFromObject(world);
  const center = box.isEmpty() ? new THREE.Vector3() : box.getCenter(new THREE.Vector3());
  const size = box.isEmpty() ? 4 : Math.max(box.getSize(new THREE.Vector3()).length(), 1e-3);
  const distance = size / (2 * Math.tan(THREE.MathUtils.degToRad(camera.fov) / 2)) * 1.25;
  camera.position.copy(center).add(new THREE.Vector3(1, -1.3, 0.9).normalize().multiplyScalar(distance));
  camera.near = distance / 1000;
  camera.far = distance * 100;
  camera.updateProjectionMatrix();
  controls.target.copy(center);
  controls.update();
  const step = 10 ** Math.floor(Math.log10(size / 2)); // grid squares of a round size, about the scene's scale
  grid.scale.setScalar(step);
  // Just below the scene's lowest point (at most z = 0), so a floor at z = 0 does not flicker with the grid.
  const floor = Math.min(0, box.min.z) - size * 1e-3;
  grid.position.set(center.x - (center.x % step), center.y - (center.y % step), floor);
  requestRender();
}

function dispose(node) {
  node.traverse((object) => {
    object.geometry?.dispose();
    for (const material of [object.material].flat()) if (material !== neutral) material?.dispose();
  });
}

// ------------------------------------------------------------------ loading glTF
async function fetchView(names) {
  const params = new URLSearchParams(names ? documentQuery() : ''); // the whole scene: FreeCAD's active document
  for (const name of names || []) params.append('objects', name);
  const text = params.toString();
  const response = await api(appPath('/view.glb') + (text ? `?${text}` : ''));
  const gltf = await loader.parseAsync(await response.arrayBuffer(), '');
  const json = gltf.parser.json;
  const nodes = new Map(); // object name -> its node (the Object3D glTF node named after it)
  gltf.scene.traverse((object) => {
    if (object.isMesh) {
      object.material = displayMaterial(object.material, gltf.parser.associations.has(object.material));
    }
    const association = gltf.parser.associations.get(object);
    const name = association?.nodes !== undefined ? json.nodes[association.nodes].name : undefined;
    if (name !== undefined && !nodes.has(name)) nodes.set(name, object);
  });
  return { gltf, nodes, extras: json.asset?.extras?.bridge3d || { objects: [], missing: [] } };
}

// There is no environment map to reflect, so metal would look black: metalness is shown at most 0.5. A mesh
// without a material gets the glTF default (white, fully metallic): a neutral grey instead, as Blender shows it.
const neutral = new THREE.MeshStandardMaterial({
  color: 0xcccccc, metalness: 0, roughness: 0.6, side: THREE.DoubleSide,
});
function displayMaterial(material, fromFile) {
  if (!fromFile) return neutral;
  material.metalness = Math.min(material.metalness, 0.5);
  return material;
}

function removeObject(name) {
  const entry = state.objects.get(name);
  if (entry?.node) {
    entry.node.removeFromParent();
    dispose(entry.node);
  }
  state.objects.delete(name);
  state.listChanged = true;
}

async function loadScene() {
  const generation = state.generation;
  const started = performance.now();
  setStatus('loading the scene…', 'busy');
  const view = await fetchView(null);
  if (generation !== state.generation) return;
  for (const name of [...state.objects.keys()]) removeObject(name);
  world.clear();
  world.add(view.gltf.scene);
  state.document = view.extras.document ?? null;
  state.listChanged = true;
  for (const info of view.extras.objects) {
    state.objects.set(info.name, { info, node: view.nodes.get(info.name) || null });
  }
  if (!state.framed) {
    frameAll();
    state.framed = true;
  }
  afterUpdate(`${state.objects.size} objects loaded in ${Math.round(performance.now() - started)} ms`);
}

async function loadObjects(names) {
  const generation = state.generation;
  const view = await fetchView(names);
  if (generation !== state.generation) return;
  for (const name of names) removeObject(name);
  for (const info of view.extras.objects) {
    const node = view.nodes.get(info.name) || null;
    state.objects.set(info.name, { info, node });
    state.listChanged = true;
    if (node && node.parent === view.gltf.scene) world.add(node); // a child node comes along with its parent
  }
}

async function moveObject(name) {
  const generation = state.generation;
  const doc = documentQuery();
  let info;
  try {
    const response = await api(appPath(`/objects/${encodeURIComponent(name)}`) + (doc ? `?${doc}` : ''));
    info = (await response.json()).result;
  } catch (error) {
    if (error.status === 404) return removeObject(name);
    throw error;
  }
  if (generation !== state.generation) return;
  const entry = state.objects.get(name);
  // Parented objects and other rotation modes are not plain location/rotation/scale: load the object again.
  if (!entry?.node || info.parent || (info.rotation_mode && info.rotation_mode !== 'XYZ')) return loadObjects([name]);
  entry.info = { ...entry.info, ...info };
  const node = entry.node;
  node.position.fromArray(info.location);
  const quaternion = info.placement?.quaternion; // FreeCAD's exact rotation; Blender gives Euler XYZ only
  if (quaternion) node.quaternion.fromArray(quaternion);
  else node.rotation.set(...info.rotation.map(THREE.MathUtils.degToRad), 'ZYX'); // Blender XYZ = Rz·Ry·Rx
  node.scale.fromArray(info.scale || [1, 1, 1]);
}

// ------------------------------------------------------------------ live updates from the WebSocket
const pending = { full: false, load: new Set(), move: new Set(), remove: new Set() };
let flushTimer = null;
let flushing = false;

function schedule() {
  if (!flushTimer) flushTimer = setTimeout(flush, DEBOUNCE_MS);
}

function transformOnly(data) {
  if (state.app === 'freecad') return Array.isArray(data.properties) && data.properties.every((p) => p === 'Placement');
  return data.what === 'transform' || (data.source === 'depsgraph' && data.transform && !data.geometry);
}

function onEvent(topic, data) {
  if (topic === 'backend.down') return setStatus(`${state.app} is down: ${data.reason || ''}`, 'error');
  if (topic === 'backend.up' || topic.startsWith('scene.') || ['document.created', 'document.closed'].includes(topic)) {
    pending.full = true;
  } else if (topic.startsWith('object.')) {
    if (state.app === 'freecad' && state.document && data.document && data.document !== state.document) return;
    const name = data.name;
    if (!name) pending.full = true; // "truncated": too many changes to list
    else if (topic === 'object.deleted') {
      pending.remove.add(name);
      pending.load.delete(name);
      pending.move.delete(name);
    } else if (topic === 'object.changed' && data.old_name) { // renamed
      pending.remove.add(data.old_name);
      pending.load.add(name);
    } else if (topic === 'object.changed' && transformOnly(data) && !pending.load.has(name)) {
      pending.move.add(name);
    } else {
      pending.remove.delete(name);
      pending.move.delete(name);
      pending.load.add(name);
    }
  } else return; // document.recomputed: the object events say what changed
  schedule();
}

async function flush() {
  flushTimer = null;
  if (flushing) return schedule();
  flushing = true;
  const work = { full: pending.full, load: [...pending.load], move: [...pending.move], remove: [...pending.remove] };
  pending.full = false;
  for (const set of [pending.load, pending.move, pending.remove]) set.clear();
  const started = performance.now();
  try {
    const parented = [...work.load, ...work.move].some((name) => hasChildren(name));
    if (work.full || parented || work.load.length + work.move.length > MAX_INCREMENTAL) {
      await loadScene();
    } else {
      for (const name of work.remove) removeObject(name);
      if (work.load.length) await loadObjects(work.load);
      await Promise.all(work.move.filter((name) => !work.load.includes(name)).map(moveObject));
      afterUpdate(`updated in ${Math.round(performance.now() - started)} ms`);
    }
  } catch (error) {
    setStatus(`update failed: ${error.message}`, 'error');
  } finally {
    flushing = false;
  }
}

function hasChildren(name) {
  for (const { info } of state.objects.values()) if (info.parent === name) return true;
  return false;
}

function connectSocket() {
  state.socket?.close(1000);
  const generation = state.generation;
  const protocols = ['bridge3d'];
  if (state.key) protocols.push(`bridge3d.key.${state.key}`); // browsers cannot send headers on a WebSocket
  const url = new URL(`/ws/${state.app}`, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (state.session) url.searchParams.set('session', state.session); // the session's own events
  let socket;
  try {
    socket = new WebSocket(url, protocols);
  } catch (error) {
    return setStatus(`live updates off: ${error.message}`, 'error'); // e.g. a key that is not a valid subprotocol
  }
  state.socket = socket;
  let ping = null;
  socket.onopen = () => {
    socket.send(JSON.stringify({ type: 'subscribe', id: 'viewer', topics: TOPICS }));
    ping = setInterval(() => socket.send(JSON.stringify({ type: 'ping' })), PING_MS);
  };
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === 'event') onEvent(data.topic, data.data || {});
    else if (data.type === 'result' && data.id === 'viewer') document.body.dataset.live = 'true';
    else if (data.type === 'error') setStatus(`live updates: ${data.error.message}`, 'error');
  };
  socket.onclose = () => {
    clearInterval(ping);
    if (generation !== state.generation || state.socket !== socket) return;
    document.body.dataset.live = 'false';
    setTimeout(() => {
      if (state.socket !== socket) return;
      connectSocket();
      pending.full = true; // what happened while the socket was down
      schedule();
    }, 2000);
  };
}

// ------------------------------------------------------------------ object list, selection, info
function afterUpdate(message) {
  state.updates += 1;
  document.body.dataset.updates = String(state.updates);
  document.body.dataset.state = 'ready';
  if (state.selected && !state.objects.has(state.selected)) state.selected = null;
  if (state.listChanged) renderList(); // not after moves only: 1,000 entries are not rebuilt for nothing
  select(state.selected);
  setStatus(message);
}

function renderList() {
  state.listChanged = false;
  const names = [...state.objects.keys()].sort((a, b) => a.localeCompare(b));
  $('count').textContent = `(${names.length})${state.document ? ` · ${state.document}` : ''}`;
  $('objects').replaceChildren(...names.map((name) => {
    const { info, node } = state.objects.get(name);
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.name = name;
    button.append(name, Object.assign(document.createElement('small'), { textContent: shortType(info.type) }));
    button.classList.toggle('hidden', !node);
    button.classList.toggle('selected', name === state.selected);
    const item = document.createElement('li');
    item.append(button);
    return item;
  }));
}

const shortType = (type) => String(type || '').replace(/^Part::/, '').toLowerCase();
const number = (value) => (typeof value === 'number' ? Number(value.toPrecision(6)).toString() : '–');
const vector = (values, unit = '') => (Array.isArray(values) ? values.map(number).join(', ') + unit : '–');

function select(name) {
  state.selected = name && state.objects.has(name) ? name : null;
  for (const button of $('objects').querySelectorAll('button')) {
    button.classList.toggle('selected', button.dataset.name === state.selected);
  }
  const entry = state.selected && state.objects.get(state.selected);
  selectionBox.visible = Boolean(entry?.node);
  if (entry?.node) selectionBox.setFromObject(entry.node);
  const unit = ` ${UNITS[state.app]}`;
  const label = entry?.info.label && entry.info.label !== entry.info.name ? ` (${entry.info.label})` : '';
  const rows = entry ? [
    ['Name', entry.info.name + label],
    ['Type', entry.info.type],
    ['Location', vector(entry.info.location, unit)],
    ['Rotation', vector(entry.info.rotation, '°')],
    ['Dimensions', vector(entry.info.dimensions, unit)],
  ] : [];
  if (entry?.info.volume !== undefined) rows.push(['Volume', `${number(entry.info.volume)} ${UNITS[state.app]}³`]);
  if (entry?.info.materials?.length) rows.push(['Materials', entry.info.materials.join(', ')]);
  if (entry && !entry.node) rows.push(['Shown', 'no (hidden, or nothing to draw)']);
  const element = (tag, text) => Object.assign(document.createElement(tag), { textContent: text });
  $('details').replaceChildren(...(entry
    ? rows.flatMap(([term, value]) => [element('dt', term), element('dd', value)])
    : [element('dt', 'Click an object in the list or in the view.')]));
  $('details').dataset.name = state.selected || '';
  requestRender();
}

$('objects').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-name]');
  if (button) select(button.dataset.name);
});

// Click (not drag) in the view: pick the nearest object under the pointer.
const pointer = { x: 0, y: 0 };
canvas.addEventListener('pointerdown', (event) => Object.assign(pointer, { x: event.clientX, y: event.clientY }));
canvas.addEventListener('pointerup', (event) => {
  if (Math.hypot(event.clientX - pointer.x, event.clientY - pointer.y) > 4) return;
  const rect = canvas.getBoundingClientRect();
  const ndc = new THREE.Vector2(
    ((event.clientX - rect.left) / rect.width) * 2 - 1,
    -((event.clientY - rect.top) / rect.height) * 2 + 1,
  );
  const raycaster = new THREE.Raycaster();
  raycaster.setFromCamera(ndc, camera);
  const nodes = new Map([...state.objects].map(([name, entry]) => [entry.node, name]));
  for (const hit of raycaster.intersectObject(world, true)) {
    for (let object = hit.object; object; object = object.parent) {
      if (nodes.has(object)) return select(nodes.get(object));
    }
  }
  select(null);
});

// ------------------------------------------------------------------ render, application and session choice
$('render').addEventListener('click', async () => {
  const button = $('render');
  button.disabled = true;
  setStatus('rendering…', 'busy');
  try {
    const response = await api('/api/v1/blender/render', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ output: 'viewer-render.png' }), // one file, replaced by each render
    });
    const result = (await response.json()).result;
    const image = await (await api(result.url)).blob(); // the key goes in a header, so no <img src=url>
    const img = $('render-image');
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(image);
    $('render-panel').hidden = false;
    setStatus(`rendered ${result.width}×${result.height} (${result.engine}) in ${number(result.seconds)} s`);
  } catch (error) {
    setStatus(`render failed: ${error.message}`, 'error');
  } finally {
    button.disabled = false;
  }
});

async function listSessions() {
  const select = $('session');
  const options = [['', 'default']];
  try {
    const headers = state.key ? { 'X-API-Key': state.key } : {};
    const response = await fetch(appPath('/sessions'), { headers, cache: 'no-store' });
    if (response.status === 200) {
      const body = await response.json();
      const items = Array.isArray(body.result) ? body.result : body.result?.sessions || [];
      for (const item of items) {
        const id = typeof item === 'string' ? item : item.id ?? item.name;
        if (id && id !== 'default') options.push([String(id), item.label ? `${item.label} (${id})` : String(id)]);
      }
    }
  } catch { /* no sessions: "default" only */ }
  select.replaceChildren(...options.map(([value, text]) => new Option(text, value, false, value === state.session)));
  if (!options.some(([value]) => value === state.session)) state.session = '';
}

async function start() {
  state.generation += 1;
  state.framed = false;
  state.document = null;
  state.selected = null;
  pending.full = false;
  for (const set of [pending.load, pending.move, pending.remove]) set.clear();
  $('app').value = state.app;
  $('render').hidden = state.app !== 'blender';
  $('render-panel').hidden = true;
  document.body.dataset.app = state.app;
  document.body.dataset.state = 'loading';
  try {
    await listSessions();
    await loadScene();
  } catch (error) {
    document.body.dataset.state = 'error';
    setStatus(`could not load the scene: ${error.message}`, 'error');
  }
  connectSocket();
}

$('app').addEventListener('change', () => {
  state.app = $('app').value;
  const url = new URL(location.href);
  url.searchParams.set('app', state.app);
  history.replaceState(null, '', url);
  start();
});
$('session').addEventListener('change', () => {
  state.session = $('session').value;
  const url = new URL(location.href);
  if (state.session) url.searchParams.set('session', state.session);
  else url.searchParams.delete('session');
  history.replaceState(null, '', url);
  start();
});
$('reload').addEventListener('click', () => { pending.full = true; schedule(); });
$('frame').addEventListener('click', frameAll);

// For tests and benchmarks: what is shown, read only.
window.bridge3dViewer = {
  names: () => [...state.objects.keys()],
  shown: () => [...state.objects].filter(([, entry]) => entry.node).map(([name]) => name),
  position: (name) => state.objects.get(name)?.node?.getWorldPosition(new THREE.Vector3()).toArray() ?? null,
  updates: () => state.updates,
  frameMs: () => { // one full frame, waited for (bench/viewer.py)
    const started = performance.now();
    renderer.render(scene, camera);
    renderer.getContext().finish();
    return performance.now() - started;
  },
};

start();
