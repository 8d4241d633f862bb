import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { createBackend } from './lib/backend';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

const backend = createBackend();
// Exposed for Playwright and debugging with the memory backend only.
if (backend.kind === 'memory') (window as unknown as { __outpost?: unknown }).__outpost = backend;

export default mount(App, { target, props: { backend } });
