// The marketplace contract through viem: reads from the marketplace's RPC, writes through the
// connected wallet. Pays and requests in one transaction (with an EIP-2612 permit signature when
// the token supports it and the allowance is short).

import { createPublicClient, http, parseSignature, zeroAddress, type PublicClient } from 'viem';
import { modelMarketAbi, testTokenAbi } from './abi/ModelMarket';
import { chainOf, type Config } from './config';
import type { Wallet } from './wallet';

export const STATUS = ['none', 'proposed', 'active', 'paused', 'delisted', 'declined'] as const;
export const JOB_STATUS = ['none', 'requested', 'completed', 'rejected', 'expired'] as const;

/** The listing as the chain holds it (the source of truth for price, card hash and status). */
export interface Listing {
  modelId: bigint;
  seller: `0x${string}`;
  operator: `0x${string}`;
  token: `0x${string}`;
  /** What the seller gets per row. */
  pricePerRow: bigint;
  /** What the operator gets per row (the buyer pays both). */
  operatorFeePerRow: bigint;
  cardHash: `0x${string}`;
  paramSet: number;
  maxRows: number;
  status: (typeof STATUS)[number];
}

/** How a job ended. */
export type JobEnd =
  | { status: 'completed'; resultHash: `0x${string}` }
  | { status: 'rejected'; reason: number; refund: bigint }
  | { status: 'expired'; refund: bigint };

export class Market {
  readonly reader: PublicClient;
  readonly address: `0x${string}`;

  constructor(readonly cfg: Config) {
    this.reader = createPublicClient({ chain: chainOf(cfg), transport: http(cfg.rpcUrl) }) as PublicClient;
    this.address = cfg.market;
  }

  private read<T>(functionName: string, args: readonly unknown[]): Promise<T> {
    return this.reader.readContract({ address: this.address, abi: modelMarketAbi, functionName, args } as never) as Promise<T>;
  }

  /**
   * Listing `modelId`: current terms from `getModel`, card hash from its `ModelListed` event.
   * `listedBlock` is where the indexer says that event is: only that block is read (RPC nodes
   * limit the block range of a log query; a scan from block 0 fails on a long chain), and the
   * event found there is the chain's own, so a wrong hint fails loudly instead of misleading.
   * Without a hint (indexer unreachable) the whole chain is scanned.
   */
  async listing(modelId: bigint, listedBlock?: bigint): Promise<Listing> {
    const m = await this.read<{ seller: `0x${string}`; operator: `0x${string}`; token: `0x${string}`; pricePerRow: bigint; operatorFeePerRow: bigint; paramSet: number; maxRows: number; status: number }>('getModel', [modelId]);
    const range = listedBlock === undefined ? { fromBlock: 0n } : { fromBlock: listedBlock, toBlock: listedBlock };
    const logs = await this.reader.getContractEvents({ address: this.address, abi: modelMarketAbi, eventName: 'ModelListed', args: { modelId }, ...range });
    const listed = logs[0] as unknown as { args: { listing: { cardHash: `0x${string}` } } } | undefined;
    if (!listed && listedBlock !== undefined) throw new Error(`The indexer places model ${modelId}'s listing in block ${listedBlock}, but that block does not list it on this chain (the indexer may be behind a reorganization; try again shortly).`);
    if (!listed) throw new Error(`Model ${modelId} is not listed on this chain.`);
    return { modelId, seller: m.seller, operator: m.operator, token: m.token, pricePerRow: m.pricePerRow, operatorFeePerRow: m.operatorFeePerRow, cardHash: listed.args.listing.cardHash, paramSet: m.paramSet, maxRows: m.maxRows, status: STATUS[m.status] ?? 'none' };
  }

  /** The operator's endpoint. */
  async endpoint(operator: `0x${string}`): Promise<string> {
    return (await this.operator(operator)).endpoint;
  }

  /** An operator's status, endpoint and the X25519 key models are sealed to. */
  async operator(operator: `0x${string}`): Promise<{ active: boolean; x25519Key: `0x${string}`; endpoint: string }> {
    const op = await this.read<readonly [number, bigint, bigint, `0x${string}`, string]>('getOperator', [operator]);
    return { active: op[0] === 1, x25519Key: op[3], endpoint: op[4] };
  }

  /** The terms an operator serves under (the contract refuses listings outside them). */
  async operatorTerms(operator: `0x${string}`): Promise<{ minFeePerRow: bigint; minJobDeadline: number; maxRowsPerJob: number; maxRowsPerHour: number }> {
    const [t] = await this.read<readonly [{ minFeePerRow: bigint; minJobDeadline: number; maxRowsPerJob: number; maxRowsPerHour: number }, bigint]>('getOperatorTerms', [operator]);
    return { minFeePerRow: t.minFeePerRow, minJobDeadline: Number(t.minJobDeadline), maxRowsPerJob: Number(t.maxRowsPerJob), maxRowsPerHour: Number(t.maxRowsPerHour) };
  }

  /** The listing's status now. */
  async modelStatus(modelId: bigint): Promise<(typeof STATUS)[number]> {
    const m = await this.read<{ status: number }>('getModel', [modelId]);
    return STATUS[m.status] ?? 'none';
  }

  /** List a model; returns its id (the operator accepts or declines it next). */
  async listModel(wallet: Wallet, listing: { operator: `0x${string}`; token: `0x${string}`; pricePerRow: bigint; operatorFeePerRow: bigint; cardHash: `0x${string}`; sealedModelHash: `0x${string}`; paramSet: number; maxRows: number; jobDeadline: number; outputMode: number }): Promise<bigint> {
    const receipt = await this.write(wallet, 'listModel', [listing]);
    const ev = (await this.reader.getContractEvents({ address: this.address, abi: modelMarketAbi, eventName: 'ModelListed', blockHash: receipt.blockHash })) as unknown as { transactionHash: string; args: { modelId: bigint } }[];
    const mine = ev.find((e) => e.transactionHash === receipt.transactionHash);
    if (!mine) throw new Error('The listing went through but its id could not be read; see your models.');
    return mine.args.modelId;
  }

  quote(modelId: bigint, rows: number): Promise<bigint> {
    return this.read<bigint>('quote', [modelId, rows]);
  }

  /** Whether `owner` registered the key `hash` (keys are per owner and hash) or revoked it. */
  async keyState(owner: `0x${string}`, hash: `0x${string}`): Promise<{ registered: boolean; revoked: boolean }> {
    const [registered, revoked] = await this.read<readonly [boolean, boolean, number]>('getKey', [owner, hash]);
    return { registered, revoked };
  }

  balanceOf(account: `0x${string}`, token: `0x${string}`): Promise<bigint> {
    return this.read<bigint>('balanceOf', [account, token]);
  }

  async tokenBalance(token: `0x${string}`, account: `0x${string}`): Promise<bigint> {
    if (token === zeroAddress) return this.reader.getBalance({ address: account });
    return this.reader.readContract({ address: token, abi: testTokenAbi, functionName: 'balanceOf', args: [account] }) as Promise<bigint>;
  }

  /** Send a write through the wallet and wait for its receipt; a revert throws with its error. */
  async write(wallet: Wallet, functionName: string, args: readonly unknown[], value?: bigint): Promise<import('viem').TransactionReceipt> {
    wallet.requireChain();
    const { request } = await this.reader.simulateContract({ address: this.address, abi: modelMarketAbi, functionName, args, account: wallet.account, value } as never);
    const hash = await wallet.client.writeContract(request as never);
    const receipt = await this.reader.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error(`The transaction ${hash} reverted.`);
    return receipt;
  }

  /** Register a key blob's hash for `paramSet`. */
  registerKey(wallet: Wallet, hash: `0x${string}`, paramSet: number) {
    return this.write(wallet, 'registerKey', [hash, paramSet]);
  }

  /**
   * Escrow `price` and request the job in one transaction: native coin as value; a token through
   * its allowance, or, when that is short, an EIP-2612 permit signed first (no approve
   * transaction) for the request's maximum total price, which the contract presents (the escrow
   * takes the current price, never more). Returns the job id and its deadline.
   */
  async request(wallet: Wallet, req: { modelId: bigint; inputHash: `0x${string}`; keyHash: `0x${string}`; rows: number; maxTotalPrice: bigint }, token: `0x${string}`, price: bigint, onStep?: (s: string) => void): Promise<{ jobId: bigint; deadline: bigint; block: bigint }> {
    let receipt;
    if (token === zeroAddress) {
      onStep?.('Confirm the payment in your wallet');
      receipt = await this.write(wallet, 'requestJob', [req], price);
    } else {
      const balance = await this.tokenBalance(token, wallet.account);
      if (balance < price) {
        const e = new Error('Your token balance is lower than the price.');
        e.name = 'InsufficientBalance';
        throw e;
      }
      const allowance = (await this.reader.readContract({ address: token, abi: testTokenAbi, functionName: 'allowance', args: [wallet.account, this.address] })) as bigint;
      if (allowance >= price) {
        onStep?.('Confirm the payment in your wallet');
        receipt = await this.write(wallet, 'requestJob', [req]);
      } else {
        // the contract presents the permit for the request's maximum: sign exactly that
        onStep?.('Sign the payment permit in your wallet (for at most the price you agreed to)');
        const { deadline, v, r, s } = await this.permit(wallet, token, req.maxTotalPrice);
        onStep?.('Confirm the payment in your wallet');
        receipt = await this.write(wallet, 'requestJobWithPermit', [req, deadline, v, r, s]);
      }
    }
    const ev = (await this.reader.getContractEvents({ address: this.address, abi: modelMarketAbi, eventName: 'JobRequested', blockHash: receipt.blockHash, args: { buyer: wallet.account } })) as unknown as { transactionHash: string; args: { jobId: bigint; deadline: bigint } }[];
    const mine = ev.find((e) => e.transactionHash === receipt.transactionHash);
    if (!mine) throw new Error('The payment went through but the job id could not be read; see "My jobs".');
    return { jobId: mine.args.jobId, deadline: mine.args.deadline, block: receipt.blockNumber };
  }

  /** Sign an EIP-2612 permit for `value` of `token` to the marketplace, valid 30 minutes. */
  private async permit(wallet: Wallet, token: `0x${string}`, value: bigint) {
    const [domain, nonce] = await Promise.all([
      this.reader.readContract({ address: token, abi: testTokenAbi, functionName: 'eip712Domain' }),
      this.reader.readContract({ address: token, abi: testTokenAbi, functionName: 'nonces', args: [wallet.account] }) as Promise<bigint>,
    ]);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 1800);
    const signature = await wallet.client.signTypedData({
      account: wallet.account,
      domain: { name: domain[1], version: domain[2], chainId: Number(domain[3]), verifyingContract: domain[4] },
      types: { Permit: [ { name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' } ] },
      primaryType: 'Permit',
      message: { owner: wallet.account, spender: this.address, value, nonce, deadline },
    });
    const { r, s, v, yParity } = parseSignature(signature);
    return { deadline, v: Number(v ?? BigInt(yParity + 27)), r, s };
  }

  /** The job's status now. */
  async jobStatus(jobId: bigint): Promise<{ status: (typeof JOB_STATUS)[number]; deadline: bigint }> {
    const j = await this.read<{ status: number; deadline: number | bigint }>('getJob', [jobId]);
    return { status: JOB_STATUS[j.status] ?? 'none', deadline: BigInt(j.deadline) };
  }

  /**
   * How an ended job ended, from its settlement event, searched from block `fromBlock` on (the
   * block of the request, or of the transaction that ended it, when the caller knows it).
   */
  async jobEnd(jobId: bigint, fromBlock: bigint): Promise<JobEnd | null> {
    const { status } = await this.jobStatus(jobId);
    const events = async (eventName: 'JobCompleted' | 'JobRejected' | 'JobExpired') =>
      (await this.reader.getContractEvents({ address: this.address, abi: modelMarketAbi, eventName, args: { jobId }, fromBlock })) as unknown as { args: Record<string, unknown> }[];
    if (status === 'completed') {
      const [e] = await events('JobCompleted');
      return e ? { status, resultHash: e.args.resultHash as `0x${string}` } : null;
    }
    if (status === 'rejected') {
      const [e] = await events('JobRejected');
      return e ? { status, reason: Number(e.args.reason), refund: e.args.refund as bigint } : null;
    }
    if (status === 'expired') {
      const [e] = await events('JobExpired');
      return e ? { status, refund: e.args.refund as bigint } : null;
    }
    return null;
  }

  /**
   * Poll until job `jobId`, requested in block `requestBlock`, ends (or `signal` aborts); `tick`
   * gets the status each second.
   */
  async waitJob(jobId: bigint, requestBlock: bigint, tick: (status: string) => void, signal?: AbortSignal): Promise<JobEnd> {
    for (;;) {
      if (signal?.aborted) throw new Error('Stopped waiting; the job continues, see "My jobs".');
      const { status, deadline } = await this.jobStatus(jobId);
      if (status !== 'requested') {
        const end = await this.jobEnd(jobId, requestBlock);
        if (end) return end;
      } else {
        const now = (await this.reader.getBlock()).timestamp; // deadlines are chain time
        tick(now > deadline ? 'expired' : 'requested');
        if (now > deadline) return { status: 'expired', refund: 0n };
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
