//! `Clone`, `PartialEq` and `Debug` for [`Filter`], written by hand so that long `and`/`or`
//! chains (left-deep trees thousands of nodes deep) are walked in loops: the derived impls
//! recurse once per node and overflow a thread's stack on a long filter.

use std::fmt;

use super::Filter;

/// The operands of the chain of one operator at `node`, left to right, following the left
/// spine only (a right operand of the same operator is a parenthesised group of its own),
/// with whether the operator is `and`. `None` when `node` is not `and`/`or`.
pub(super) fn left_spine(node: &Filter) -> Option<(bool, Vec<&Filter>)> {
    let and = match node {
        Filter::And(..) => true,
        Filter::Or(..) => false,
        _ => return None,
    };
    let mut operands = Vec::new();
    let mut leftmost = node;
    while let (Filter::And(l, r), true) | (Filter::Or(l, r), false) = (leftmost, and) {
        operands.push(r.as_ref());
        leftmost = l;
    }
    operands.push(leftmost);
    operands.reverse();
    Some((and, operands))
}

impl PartialEq for Filter {
    fn eq(&self, other: &Self) -> bool {
        let mut pending = vec![(self, other)];
        while let Some((a, b)) = pending.pop() {
            match (a, b) {
                (Filter::And(a1, a2), Filter::And(b1, b2))
                | (Filter::Or(a1, a2), Filter::Or(b1, b2)) => {
                    pending.push((a2, b2));
                    pending.push((a1, b1));
                }
                (Filter::Not(a), Filter::Not(b)) => pending.push((a, b)),
                (
                    Filter::ValuePath { path, filter },
                    Filter::ValuePath {
                        path: path_b,
                        filter: filter_b,
                    },
                ) => {
                    if path != path_b {
                        return false;
                    }
                    pending.push((filter, filter_b));
                }
                (
                    Filter::Compare { path, op, value },
                    Filter::Compare {
                        path: path_b,
                        op: op_b,
                        value: value_b,
                    },
                ) => {
                    if (path, op, value) != (path_b, op_b, value_b) {
                        return false;
                    }
                }
                (Filter::Present(a), Filter::Present(b)) => {
                    if a != b {
                        return false;
                    }
                }
                _ => return false,
            }
        }
        true
    }
}

/// A step of the iterative clone: visit a node, or assemble one from the clones of its
/// children, which are on top of the output stack.
enum Step<'a> {
    Visit(&'a Filter),
    And,
    Or,
    Not,
    ValuePath(&'a super::AttrPath),
}

impl Clone for Filter {
    fn clone(&self) -> Self {
        let mut steps = vec![Step::Visit(self)];
        let mut done: Vec<Filter> = Vec::new();
        let pop = |done: &mut Vec<Filter>| Box::new(done.pop().expect("a cloned child"));
        while let Some(step) = steps.pop() {
            match step {
                Step::Visit(node) => match node {
                    Filter::And(l, r) | Filter::Or(l, r) => {
                        steps.push(if matches!(node, Filter::And(..)) {
                            Step::And
                        } else {
                            Step::Or
                        });
                        steps.push(Step::Visit(r));
                        steps.push(Step::Visit(l));
                    }
                    Filter::Not(inner) => {
                        steps.push(Step::Not);
                        steps.push(Step::Visit(inner));
                    }
                    Filter::ValuePath { path, filter } => {
                        steps.push(Step::ValuePath(path));
                        steps.push(Step::Visit(filter));
                    }
                    Filter::Compare { path, op, value } => done.push(Filter::Compare {
                        path: path.clone(),
                        op: *op,
                        value: value.clone(),
                    }),
                    Filter::Present(path) => done.push(Filter::Present(path.clone())),
                },
                Step::And | Step::Or => {
                    let r = pop(&mut done);
                    let l = pop(&mut done);
                    done.push(if matches!(step, Step::And) {
                        Filter::And(l, r)
                    } else {
                        Filter::Or(l, r)
                    });
                }
                Step::Not => {
                    let inner = pop(&mut done);
                    done.push(Filter::Not(inner));
                }
                Step::ValuePath(path) => {
                    let filter = pop(&mut done);
                    done.push(Filter::ValuePath {
                        path: path.clone(),
                        filter,
                    });
                }
            }
        }
        done.pop().expect("the cloned root")
    }
}

/// Structural, except that a chain of one operator shows as one list: `And[a, b, c]` is
/// `And(And(a, b), c)`, while `And[a, And[b, c]]` is `And(a, And(b, c))`.
impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((and, operands)) = left_spine(self) {
            f.write_str(if and { "And" } else { "Or" })?;
            return f.debug_list().entries(operands).finish();
        }
        match self {
            Filter::Compare { path, op, value } => f
                .debug_struct("Compare")
                .field("path", path)
                .field("op", op)
                .field("value", value)
                .finish(),
            Filter::Present(path) => f.debug_tuple("Present").field(path).finish(),
            Filter::Not(inner) => f.debug_tuple("Not").field(inner).finish(),
            Filter::ValuePath { path, filter } => f
                .debug_struct("ValuePath")
                .field("path", path)
                .field("filter", filter)
                .finish(),
            Filter::And(..) | Filter::Or(..) => unreachable!("handled as a chain above"),
        }
    }
}
