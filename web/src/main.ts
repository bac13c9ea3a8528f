// The ModelMart web dApp: boot, header and hash routes.

import './style.css';
import { App, walletButton } from './app';
import { loadConfig } from './config';
import { explain } from './errors';
import { h, mount, notice } from './ui';
import * as jobs from './views/jobs';
import * as model from './views/model';
import * as models from './views/models';
import * as sell from './views/sell';

async function route(app: App, main: HTMLElement): Promise<void> {
  const path = location.hash.replace(/^#/, '') || '/';
  for (const a of document.querySelectorAll('nav a')) a.toggleAttribute('aria-current', a.getAttribute('href') === `#${path}`);
  const m = /^\/model\/(\d+)$/.exec(path);
  if (m) return model.render(app, main, BigInt(m[1]));
  if (path === '/jobs') return jobs.render(app, main);
  if (path === '/sell') return sell.render(app, main);
  return models.render(app, main);
}

async function boot(): Promise<void> {
  const root = document.getElementById('app')!;
  const main = h('main', { id: 'main' });
  const walletEl = h('div', { class: 'wallet' });
  mount(root,
    h('header', {},
      h('a', { class: 'brand', href: '#/' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), 'ModelMart'),
      h('nav', { 'aria-label': 'Main' }, h('a', { href: '#/' }, 'Models'), h('a', { href: '#/jobs' }, 'My jobs'), h('a', { href: '#/sell' }, 'Sell')),
      walletEl),
    main,
    h('footer', {}, 'Encrypted in your browser with TFHE · results only you can decrypt'));
  let app: App;
  try {
    app = new App(await loadConfig());
  } catch (e) {
    mount(main, notice('error', explain(e)));
    return;
  }
  walletButton(app, walletEl);
  const go = () => route(app, main).catch((e) => mount(main, notice('error', explain(e))));
  window.addEventListener('hashchange', go);
  app.onWallet(() => {
    if (/^#\/(jobs|sell)/.test(location.hash)) void go();
  });
  await go();
  document.body.dataset.ready = 'true';
}

void boot();
