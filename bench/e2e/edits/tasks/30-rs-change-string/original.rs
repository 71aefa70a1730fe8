//! Launch options for the worker binary, validated against the model.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub struct LaunchOptions {
    pub model_path: PathBuf,
    pub ctx_size: usize,
    pub batch_size: usize,
    pub threads: usize,
    pub gpu_layers: Option<usize>,
    pub port: u16,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        LaunchOptions {
            model_path: PathBuf::new(),
            ctx_size: 4096,
            batch_size: 512,
            threads: 4,
            gpu_layers: None,
            port: 8080,
        }
    }
}

/// What we know about the model before loading its weights.
#[derive(Debug, Clone, Copy)]
pub struct ModelLimits {
    pub max_ctx: usize,
    pub n_layers: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsError {
    MissingModel,
    ContextTooLarge { requested: usize, max: usize },
    BatchLargerThanContext { batch: usize, ctx: usize },
    TooManyGpuLayers { requested: usize, available: usize },
    ZeroThreads,
    PrivilegedPort(u16),
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionsError::MissingModel => write!(f, "no model path given (use --model)"),
            OptionsError::ContextTooLarge { requested, max } => write!(
                f,
                "context size {requested} exceeds the model's maximum of {max}"
            ),
            OptionsError::BatchLargerThanContext { batch, ctx } => {
                write!(f, "batch size {batch} is larger than context size {ctx}")
            }
            OptionsError::TooManyGpuLayers {
                requested,
                available,
            } => write!(
                f,
                "cannot offload {requested} layers: the model has only {available}"
            ),
            OptionsError::ZeroThreads => write!(f, "thread count must be at least 1"),
            OptionsError::PrivilegedPort(p) => {
                write!(f, "port {p} is privileged; choose a port >= 1024")
            }
        }
    }
}

impl std::error::Error for OptionsError {}

impl LaunchOptions {
    /// Checks the options against the model's limits. Returns every problem
    /// found, not just the first, so the user can fix them in one go.
    pub fn validate(&self, limits: ModelLimits) -> Vec<OptionsError> {
        let mut errs = Vec::new();
        if self.model_path.as_os_str().is_empty() {
            errs.push(OptionsError::MissingModel);
        }
        if self.ctx_size > limits.max_ctx {
            errs.push(OptionsError::ContextTooLarge {
                requested: self.ctx_size,
                max: limits.max_ctx,
            });
        }
        if self.batch_size > self.ctx_size {
            errs.push(OptionsError::BatchLargerThanContext {
                batch: self.batch_size,
                ctx: self.ctx_size,
            });
        }
        if let Some(n) = self.gpu_layers {
            if n > limits.n_layers {
                errs.push(OptionsError::TooManyGpuLayers {
                    requested: n,
                    available: limits.n_layers,
                });
            }
        }
        if self.threads == 0 {
            errs.push(OptionsError::ZeroThreads);
        }
        if self.port < 1024 {
            errs.push(OptionsError::PrivilegedPort(self.port));
        }
        errs
    }

    /// Number of layers to offload, defaulting to all of them.
    pub fn effective_gpu_layers(&self, limits: ModelLimits) -> usize {
        self.gpu_layers
            .unwrap_or(limits.n_layers)
            .min(limits.n_layers)
    }
}

/// Formats validation errors one per line, prefixed for the CLI.
pub fn report(errs: &[OptionsError]) -> String {
    errs.iter()
        .map(|e| format!("error: {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}
