/** The schema of config/cluster.yml: it validates the file and gives the TypeScript types. */
import { z } from 'zod';
import { keywordSchema, specialtySchema } from './names.js';

const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'expected a lowercase name: a letter, then letters, digits or "-" (at most 32)');
const specialty = specialtySchema;
const vm = z.strictObject({
  cpus: z.int().min(1).default(2),
  memoryMb: z.int().min(256).default(2048),
});

/** A specialty's profile: what its runs may do (every key optional; unset keys fall back to the executor's). */
export const profileSchema = z.strictObject({
  systemPrompt: z.string().min(1).optional(),
  allowedTools: z.array(z.string().min(1)).optional(),
  /** MCP servers as Claude Code's `mcpServers` object (name → {command, args, env} or {type, url}); they run inside the sandbox. */
  mcpServers: z.record(z.string().min(1), z.record(z.string(), z.unknown())).optional(),
  model: z.string().min(1).optional(),
  maxTurns: z.int().min(1).max(500).optional(),
  /** `--max-budget-usd` of this specialty's runs. */
  maxBudgetUsd: z.number().positive().optional(),
  /** Egress patterns (host[:port], *.example.com) added to agent.egress.allow for this specialty. */
  egressAllow: z.array(z.string().min(1)).optional(),
});

/** How the real Claude Code CLI is run; every key can be overridden per agent (agents[].claude). */
export const claudeExecutorSchema = z.strictObject({
  type: z.literal('claude'),
  /** The CLI; `{packageRoot}` stands for this package (which pins @anthropic-ai/claude-code). */
  binary: z.string().min(1).default('{packageRoot}/node_modules/.bin/claude'),
  model: z.string().min(1).optional(),
  maxTurns: z.int().min(1).max(500).default(30),
  permissionMode: z.enum(['default', 'acceptEdits', 'plan', 'bypassPermissions', 'dontAsk']).default('acceptEdits'),
  /** Bash is allowed because the whole CLI runs in the sandbox (agent.sandbox); docs/security.md. */
  allowedTools: z.array(z.string().min(1)).default(['Read', 'Write', 'Edit', 'Glob', 'Grep', 'Bash']),
  /** Appended to the CLI's system prompt, per specialty (`default` for the rest). */
  systemPrompts: z.record(z.string(), z.string()).default({}),
  /** No output line for this long → the run is killed (hung CLI). */
  idleTimeoutSeconds: z.number().positive().default(300),
  /** Wall-clock limit of one run. */
  timeoutSeconds: z.number().positive().default(3600),
  /** --max-budget-usd of each run: one amount, or per specialty with `default` for the rest. */
  /** `--max-budget-usd` of every run (a profile may set its own): the CLI stops itself at that cost. */
  maxBudgetUsd: z.number().positive().optional(),
  /** Failed workspaces are kept this long for inspection. */
  keepFailedHours: z.number().min(0).default(24),
  /** On the turn limit, the budget, the wall clock or the idle watchdog, commit and push the work so far (marked incomplete). */
  keepWorkOnLimit: z.boolean().default(true),
  author: z.strictObject({ name: z.string().min(1), email: z.string().min(3) }).default({ name: 'ccc agent', email: 'ccc-agent@localhost' }),
  /** Per specialty (`default` for the rest): system prompt, tools, MCP servers, model, turn limit, egress additions. */
  profiles: z.record(z.string(), profileSchema).default({}),
});

export const coordinatorNodeSchema = z.strictObject({
  name,
  ip: z.ipv4(),
  port: z.int().min(1).max(65535).default(8080),
  vm: vm.prefault({}),
  /** Whether agents not listed under `agents` may enroll (with the specialties their hello claims). */
  allowUnlistedAgents: z.boolean().default(false),
});

export const agentNodeSchema = z.strictObject({
  name,
  ip: z.ipv4(),
  specialties: z.array(specialty).min(1, 'expected at least one specialty'),
  capacity: z.int().min(1).max(64).default(2),
  vm: vm.prefault({}),
  /** Overrides of agent.executor for this agent (claude executor only). */
  claude: claudeExecutorSchema.omit({ type: true }).partial().optional(),
});

export const commandExecutorSchema = z.strictObject({
  type: z.literal('command'),
  /** argv of the program run per task; it gets the task as JSON on stdin. */
  command: z.array(z.string().min(1)).min(1),
  timeoutSeconds: z.number().positive().default(1800),
});

export const executorSchema = z.discriminatedUnion('type', [commandExecutorSchema, claudeExecutorSchema]);

export const clusterSchema = z
  .strictObject({
    version: z.literal(1),
    coordinator: coordinatorNodeSchema,
    agents: z.array(agentNodeSchema).min(1, 'expected at least one agent'),
    tasks: z
      .strictObject({
        maxAttempts: z.int().min(1).max(100).default(3),
        retryBackoffSeconds: z.number().min(0).default(5),
        leaseSeconds: z.number().min(0.2).max(3600).default(15),
        heartbeatSeconds: z.number().min(0.05).max(600).default(5),
        /** Model cost allowed per UTC day; once spent, new tasks wait for the next day. */
        dailyBudgetUsd: z.number().positive().optional(),
      })
      .prefault({}),
    routing: z
      .strictObject({
        fallbackAfterSeconds: z.number().min(0).default(0),
        /** The order of a plan's steps, when an issue has several ccc:<specialty> labels (docs/plans.md). */
        planOrder: z.array(specialty).min(1).default(['backend', 'frontend', 'testing', 'devops']),
        /** What a planner run's proposal (`/ccc plan`) waits for: `comment` (`/ccc approve`) or `auto` (runs at once). */
        planApproval: z.enum(['comment', 'auto']).default('comment'),
        keywords: z.record(specialty, z.array(keywordSchema).min(1)).optional(),
      })
      .prefault({}),
    github: z
      .strictObject({
        /** An issue carrying this label (opened with it, or labeled with it) becomes a task. */
        triggerLabel: z.string().min(1).max(50).default('ccc'),
        /** Who may trigger work: GitHub's author_association of the issue opener or commenter. */
        allowedAssociations: z
          .array(z.enum(['OWNER', 'MEMBER', 'COLLABORATOR', 'CONTRIBUTOR', 'FIRST_TIME_CONTRIBUTOR', 'FIRST_TIMER', 'MANNEQUIN', 'NONE']))
          .default(['OWNER', 'MEMBER', 'COLLABORATOR']),
        /** REST API base; GitHub Enterprise Server: https://HOST/api/v3. */
        apiUrl: z.url().default('https://api.github.com'),
        /** Where agents clone from and push to; {owner} and {repo} are filled in. */
        gitUrlTemplate: z.string().min(1).default('https://github.com/{owner}/{repo}.git'),
      })
      .prefault({}),
    agent: z
      .strictObject({
        drainTimeoutSeconds: z.number().min(0).default(60),
        executor: executorSchema,
        /** `on`: the CLI runs in bubblewrap; where the host cannot, the agent takes no task that allows Bash. `off` only by choice. */
        sandbox: z.enum(['on', 'off']).default('on'),
        /** What the sandbox may reach through the egress proxy (host[:port], *.example.com); the model upstream is always allowed. */
        egress: z.strictObject({ allow: z.array(z.string().min(1)).default([]) }).prefault({}),
      }),
  })
  .superRefine((cluster, ctx) => {
    const names = new Set<string>([cluster.coordinator.name]);
    const ips = new Set<string>([cluster.coordinator.ip]);
    cluster.agents.forEach((agent, i) => {
      if (names.has(agent.name)) {
        ctx.addIssue({ code: 'custom', path: ['agents', i, 'name'], message: `"${agent.name}" is used twice; node names must be unique` });
      }
      if (ips.has(agent.ip)) {
        ctx.addIssue({ code: 'custom', path: ['agents', i, 'ip'], message: `${agent.ip} is used twice; node IPs must be unique` });
      }
      names.add(agent.name);
      ips.add(agent.ip);
    });
    if (cluster.tasks.heartbeatSeconds >= cluster.tasks.leaseSeconds) {
      ctx.addIssue({ code: 'custom', path: ['tasks', 'heartbeatSeconds'], message: 'must be shorter than tasks.leaseSeconds, or every lease expires between heartbeats' });
    }
  });

export type Cluster = z.infer<typeof clusterSchema>;
export type AgentNode = z.infer<typeof agentNodeSchema>;
export type CommandExecutorConfig = z.infer<typeof commandExecutorSchema>;
export type ClaudeExecutorConfig = z.infer<typeof claudeExecutorSchema>;
export type Profile = z.infer<typeof profileSchema>;
export type ExecutorConfig = z.infer<typeof executorSchema>;
