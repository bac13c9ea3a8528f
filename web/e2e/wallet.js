// A test wallet injected into the page (Playwright init script): an EIP-1193 provider announced
// over EIP-6963 that forwards everything to anvil, whose dev accounts are unlocked, so anvil
// signs transactions, messages and typed data. `window.__testWallet` lets a test reject the next
// requests (as a person clicking "Reject" would), start on the wrong chain, or move the chain's
// clock past a job's deadline right after the job's transaction is mined.
(({ rpcUrl, account, chainId }) => {
  const state = { account, chainId, reject: false, jumpAfterPayment: 0 };
  const listeners = {};
  const emit = (event, value) => (listeners[event] || []).forEach((f) => f(value));
  let id = 0;
  const rpc = async (method, params = []) => {
    const res = await fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }) });
    const body = await res.json();
    if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
    return body.result;
  };
  const signing = ['eth_requestAccounts', 'eth_sendTransaction', 'personal_sign', 'eth_signTypedData_v4', 'wallet_switchEthereumChain'];
  const provider = {
    isModelMartTestWallet: true,
    async request({ method, params }) {
      if (state.reject && signing.includes(method)) throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
      switch (method) {
        case 'eth_requestAccounts':
        case 'eth_accounts':
          return [state.account];
        case 'eth_chainId':
          return state.chainId;
        case 'wallet_switchEthereumChain':
          state.chainId = params[0].chainId;
          emit('chainChanged', state.chainId);
          return null;
        case 'eth_sendTransaction': {
          const hash = await rpc(method, params);
          if (state.jumpAfterPayment && BigInt(params[0].value || 0) > 0n) {
            const seconds = state.jumpAfterPayment;
            state.jumpAfterPayment = 0;
            for (;;) {
              if (await rpc('eth_getTransactionReceipt', [hash])) break;
              await new Promise((r) => setTimeout(r, 20));
            }
            await rpc('evm_increaseTime', [seconds]);
            await rpc('evm_mine', []);
          }
          return hash;
        }
        default:
          return rpc(method, params);
      }
    },
    on(event, f) { (listeners[event] ||= []).push(f); },
    removeListener(event, f) { listeners[event] = (listeners[event] || []).filter((g) => g !== f); },
  };
  window.__testWallet = state;
  const info = { uuid: '6a1d8f0e-0000-4000-8000-000000000001', name: 'Test Wallet (anvil)', icon: 'data:image/svg+xml,%3Csvg xmlns="http://www.w3.org/2000/svg"/%3E', rdns: 'dev.modelmart.testwallet' };
  const announce = () => window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }));
  window.addEventListener('eip6963:requestProvider', announce);
  announce();
});
