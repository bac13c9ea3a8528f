import { hashTypedData } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { sealingKey, unlockRequest } from '../src/keystore';

// anvil's first dev account: a throwaway key
const account = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');

describe('key store unlock', () => {
  it('is typed data naming the site and the chain, so another site gets another key', async () => {
    const here = unlockRequest(account.address, 31337, 'https://modelmart.example');
    expect(here.domain.chainId).toBe(31337);
    expect(here.message.origin).toBe('https://modelmart.example');
    const other = unlockRequest(account.address, 31337, 'https://evil.example');
    const otherChain = unlockRequest(account.address, 1, 'https://modelmart.example');
    const digests = new Set([here, other, otherChain].map((r) => hashTypedData(r)));
    expect(digests.size).toBe(3);

    // what a signature obtained by another site derives cannot open what this site sealed
    const [mine, theirs] = await Promise.all([account.signTypedData(here), account.signTypedData(other)]);
    const [k1, k2] = await Promise.all([sealingKey(mine), sealingKey(theirs)]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, k1, new TextEncoder().encode('client key'));
    await expect(crypto.subtle.decrypt({ name: 'AES-GCM', iv }, k2, sealed)).rejects.toThrow();
    const opened = await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, await sealingKey(mine), sealed);
    expect(new TextDecoder().decode(opened)).toBe('client key');
  });
});
